"""The sync API: run, pull records, conflicts and their resolution, metrics; scopes and apps."""

import pytest

from app.store.common import utcnow
from app.sync.jobs import LOCK_NAME

from .helpers import edit, event, send, sync


def headers(api_key, scopes, app_name="testapp"):
    return {"Authorization": f"Bearer {api_key(scopes, app_name)}"}


@pytest.mark.parametrize(("method", "path", "scope"), [
    ("post", "/api/telemetry/sync", "admin"),
    ("get", "/api/telemetry/records", "read"),
    ("get", "/api/telemetry/records/note/r1", "read"),
    ("get", "/api/telemetry/conflicts", "read"),
    ("get", "/api/telemetry/conflicts/1", "read"),
    ("post", "/api/telemetry/conflicts/1/resolve", "admin"),
    ("get", "/api/telemetry/metrics", "read"),
])
def test_each_endpoint_needs_a_key_with_its_scope(client, api_key, method, path, scope):
    call = getattr(client, method)
    body = {"json": {"resolution": "server"}} if method == "post" else {}
    assert call(path, **body).status_code == 401
    weak = "ingest" if scope == "read" else "ingest,read"
    response = call(path, headers=headers(api_key, weak), **body)
    assert response.status_code == 403
    assert response.get_json()["error"] == "forbidden"


def test_sync_now_applies_the_queue_and_answers_the_run(client, auth, store):
    send(client, auth, [event("e1"), edit("i1", "r1", 5, {"t": 1})])
    response = client.post("/api/telemetry/sync?wait=10", headers=auth)
    assert response.status_code == 200
    run = response.get_json()
    assert (run["itemCount"], run["successCount"], run["failureCount"]) == (2, 1, 1)
    assert run["status"] == "partial" and len(run["batches"]) == 1
    assert run["errors"][0]["itemId"] == "i1" and "ahead" in run["errors"][0]["reason"]
    assert store.queue_counts() == {"done": 1, "dead": 1}


def test_sync_now_hides_other_apps_errors(client, auth, api_key, store):
    other = headers(api_key, "ingest,read,admin", "otherapp")
    send(client, other, [edit("i1", "r1", 5, {"t": 1})])
    run = client.post("/api/telemetry/sync?wait=10", headers=auth).get_json()
    assert run["itemCount"] == run["failureCount"] == 0 and run["errors"] == []


def test_sync_now_answers_409_while_a_sync_runs(client, auth, store, app):
    now = utcnow()
    store.acquire_lock(LOCK_NAME, "another-host", now.replace(year=now.year + 1), now)
    response = client.post("/api/telemetry/sync", headers=auth)
    assert response.status_code == 409
    assert response.get_json()["error"] == "sync_in_progress"


def test_records_pull_from_a_checkpoint_oldest_change_first(client, auth, store, app):
    send(client, auth, [edit("a1", "a", 0, {"n": 1}), edit("b1", "b", 0, {"n": 1}),
                        edit("t1", "t", 0, {"n": 1}, record_type="task")])
    sync(app, store)
    page = client.get("/api/telemetry/records?limit=2", headers=auth).get_json()
    assert [r["recordId"] for r in page["records"]] == ["a", "b"] and page["hasMore"]
    rest = client.get(f"/api/telemetry/records?since={page['nextSince']}",
                      headers=auth).get_json()
    assert [r["recordId"] for r in rest["records"]] == ["t"] and not rest["hasMore"]
    send(client, auth, [edit("a2", "a", 1, {"n": 2})])
    sync(app, store)
    changed = client.get(f"/api/telemetry/records?since={rest['nextSince']}",
                         headers=auth).get_json()
    [record] = changed["records"]
    assert (record["recordId"], record["version"], record["data"]) == ("a", 2, {"n": 2})
    empty = client.get(f"/api/telemetry/records?since={changed['nextSince']}",
                       headers=auth).get_json()
    assert empty == {"records": [], "nextSince": changed["nextSince"], "hasMore": False}
    only = client.get("/api/telemetry/records?recordType=task", headers=auth).get_json()
    assert [r["recordType"] for r in only["records"]] == ["task"]


@pytest.mark.parametrize("query", ["since=-1", "limit=0", "limit=5000", "recordType=event",
                                   "since=x", "colour=red"])
def test_bad_record_queries_answer_400(client, auth, query):
    response = client.get(f"/api/telemetry/records?{query}", headers=auth)
    assert response.status_code == 400
    assert response.get_json()["error"] == "validation_error"


def test_one_record_or_404(client, auth, store, app):
    send(client, auth, [edit("a1", "r1", 0, {"n": 1})])
    sync(app, store)
    response = client.get("/api/telemetry/records/note/r1", headers=auth)
    assert response.status_code == 200
    assert response.get_json()["version"] == 1 and response.get_json()["data"] == {"n": 1}
    missing = client.get("/api/telemetry/records/note/nope", headers=auth)
    assert missing.status_code == 404 and missing.get_json()["error"] == "not_found"


def test_an_app_never_sees_another_apps_records_or_conflicts(client, auth, api_key, store, app):
    send(client, auth, [edit("a1", "r1", 0, {"n": 1}), event("e1")])
    send(client, auth, [event("e1", eventData={"questionId": "other"})])
    sync(app, store)
    other = headers(api_key, "ingest,read,admin", "otherapp")
    assert client.get("/api/telemetry/records/note/r1", headers=other).status_code == 404
    assert client.get("/api/telemetry/records", headers=other).get_json()["records"] == []
    assert client.get("/api/telemetry/conflicts", headers=other).get_json()["conflicts"] == []
    [conflict] = client.get("/api/telemetry/conflicts", headers=auth).get_json()["conflicts"]
    assert client.get(f"/api/telemetry/conflicts/{conflict['id']}",
                      headers=other).status_code == 404
    response = client.post(f"/api/telemetry/conflicts/{conflict['id']}/resolve",
                           json={"resolution": "client"}, headers=other)
    assert response.status_code == 404
    assert client.get("/api/telemetry/metrics", headers=other).get_json()["total"] == 0


def test_conflicts_list_and_resolve(client, auth, store, app):
    send(client, auth, [edit("v1", "r1", 0, {"title": "a"})])
    sync(app, store)
    send(client, auth, [edit("v2", "r1", 1, {"title": "b"})])
    send(client, auth, [edit("c1", "r1", 1, {"title": "c"})])
    sync(app, store)
    listing = client.get("/api/telemetry/conflicts?status=open", headers=auth).get_json()
    [conflict] = listing["conflicts"]
    assert conflict["base"] == {"title": "a"} and conflict["server"] == {"title": "b"}
    assert conflict["client"] == {"title": "c"} and conflict["fields"] == ["title"]
    url = f"/api/telemetry/conflicts/{conflict['id']}/resolve"
    bad = client.post(url, json={"resolution": "merged"}, headers=auth)
    assert bad.status_code == 400 and "data" in bad.get_json()["fields"]
    dotted = client.post(url, json={"resolution": "merged", "data": {"a.b": 1}}, headers=auth)
    assert dotted.status_code == 400
    unknown = client.post(url, json={"resolution": "mine"}, headers=auth)
    assert unknown.status_code == 400
    done = client.post(url, json={"resolution": "merged", "data": {"title": "bc"}},
                       headers=auth)
    assert done.status_code == 200
    assert done.get_json()["status"] == "resolved" and done.get_json()["resolution"] == "merged"
    again = client.post(url, json={"resolution": "server"}, headers=auth)
    assert again.status_code == 409 and again.get_json()["error"] == "already_resolved"
    record = client.get("/api/telemetry/records/note/r1", headers=auth).get_json()
    assert (record["version"], record["data"]) == (3, {"title": "bc"})
    assert client.get("/api/telemetry/conflicts?status=open",
                      headers=auth).get_json()["conflicts"] == []
    assert client.post("/api/telemetry/conflicts/424242/resolve", json={"resolution": "server"},
                       headers=auth).status_code == 404


def test_metrics_count_events_by_type_and_day(client, auth, store, app):
    send(client, auth, [
        event(event_type="interview_started", metadata={"clientTimestamp": "2026-03-01T10:00:00Z"},
              eventData={"interviewId": "i1"}),
        event(event_type="custom_a", metadata={"clientTimestamp": "2026-03-01T11:00:00Z"}),
        event(event_type="custom_a", metadata={"clientTimestamp": "2026-03-02T09:00:00Z"}),
    ])
    sync(app, store)
    everything = client.get("/api/telemetry/metrics", headers=auth).get_json()
    assert everything["total"] == 3
    assert everything["byType"] == [{"eventType": "custom_a", "count": 2},
                                    {"eventType": "interview_started", "count": 1}]
    assert everything["byDay"] == [
        {"day": "2026-03-01", "total": 2, "byType": {"custom_a": 1, "interview_started": 1}},
        {"day": "2026-03-02", "total": 1, "byType": {"custom_a": 1}},
    ]
    window = client.get("/api/telemetry/metrics?from=2026-03-01T10:30:00Z&to=2026-03-02T00:00:00Z",
                        headers=auth).get_json()
    assert window["total"] == 1 and window["byType"] == [{"eventType": "custom_a", "count": 1}]
    assert client.get("/api/telemetry/metrics?from=yesterday", headers=auth).status_code == 400


def test_the_openapi_document_describes_the_sync_endpoints(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    for path in ("/api/telemetry/sync", "/api/telemetry/records",
                 "/api/telemetry/records/{record_type}/{record_id}", "/api/telemetry/conflicts",
                 "/api/telemetry/conflicts/{conflict_id}/resolve", "/api/telemetry/metrics"):
        assert path in paths, path
    assert "409" in paths["/api/telemetry/sync"]["post"]["responses"]
