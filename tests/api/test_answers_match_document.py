"""Every real answer of the API matches the OpenAPI document the app serves.

Track, batch, health and sync answer with `jsonify` (ingest never serialises per-item results
through marshmallow), so nothing but this test holds those answers to their documented
schemas. Each test makes real requests on the app and checks each answer against
/api/openapi.json: its status is listed for the operation (the catch-all `default` does not
count), its body validates against that response's schema (JSON Schema 2020-12, as OpenAPI 3.1
has it: $refs resolved, formats checked), and its required headers are there.
"""

import gzip
import json

import jsonschema_rs
import pytest

from app.extensions import rate_limiter
from app.store.common import utcnow
from app.sync.jobs import LOCK_NAME
from app.sync.runs import lease_holder
from tests.api.helpers import batch, event_item, record_item
from tests.conftest import make_app
from tests.stored import take_down
from tests.sync.helpers import edit, held_runs, manual_conflict, send, sync
from tests.waiting import wait_for

pytestmark = pytest.mark.both_stores

TRACK = ("post", "/api/telemetry/track")
BATCH = ("post", "/api/telemetry/batch")
BATCH_STATUS = ("get", "/api/telemetry/batch/{batch_id}")
STATUS = ("get", "/api/telemetry/status")
SYNC = ("post", "/api/telemetry/sync")
SYNC_RUN = ("get", "/api/telemetry/sync/runs/{run_id}")
RECORDS = ("get", "/api/telemetry/records")
RECORD = ("get", "/api/telemetry/records/{record_type}/{record_id}")
CONFLICTS = ("get", "/api/telemetry/conflicts")
CONFLICT = ("get", "/api/telemetry/conflicts/{conflict_id}")
RESOLVE = ("post", "/api/telemetry/conflicts/{conflict_id}/resolve")
METRICS = ("get", "/api/telemetry/metrics")
EVENTS = ("get", "/api/telemetry/events")
EXPORT_EVENTS = ("get", "/api/telemetry/events/export")
HEALTH = ("get", "/api/health")
LIVE = ("get", "/api/health/live")
READY = ("get", "/api/health/ready")
# The identity verbs' endpoints, each with a valid body.
VERBS = {
    ("post", "/api/telemetry/identify"): {"userId": "u1", "anonymousId": "a1",
                                          "traits": {"plan": "pro"}, "traitsOnce": {"x": 1}},
    ("post", "/api/telemetry/alias"): {"previousId": "a1", "userId": "u1"},
    ("post", "/api/telemetry/group"): {"anonymousId": "a1", "groupId": "g1",
                                       "traits": {"name": "Acme"}},
    ("post", "/api/telemetry/page"): {"userId": "u1", "name": "Home", "category": "docs",
                                      "properties": {"path": "/"}},
    ("post", "/api/telemetry/screen"): {"anonymousId": "a1", "name": "Settings"},
}
PERSON = ("get", "/api/telemetry/people/{user_id}")
PERSON_BY_QUERY = ("get", "/api/telemetry/people")
PERSON_EXPORT = ("get", "/api/telemetry/people/{user_id}/export")
PERSON_EXPORT_BY_QUERY = ("get", "/api/telemetry/people/export")
SUPPRESSION = ("get", "/api/telemetry/suppressions")
LIFT = ("delete", "/api/telemetry/suppressions")
# Every operation of the document is exercised below; a new one must be added here too.
OPERATIONS = {TRACK, BATCH, BATCH_STATUS, STATUS, SYNC, SYNC_RUN, RECORDS, RECORD, CONFLICTS,
              CONFLICT, RESOLVE, METRICS, HEALTH, PERSON, PERSON_BY_QUERY, *VERBS}
OPERATIONS |= {PERSON_EXPORT, PERSON_EXPORT_BY_QUERY}
OPERATIONS |= {SUPPRESSION, LIFT}
OPERATIONS |= {EVENTS, EXPORT_EVENTS}
OPERATIONS |= {LIVE, READY}
ERASE = ("delete", "/api/telemetry/people/{user_id}")
ERASE_BY_QUERY = ("delete", "/api/telemetry/people")
DELETION = ("get", "/api/telemetry/deletions/{deletion_id}")
ERASURE = {ERASE: "admin", ERASE_BY_QUERY: "admin", DELETION: "admin"}
OPERATIONS |= set(ERASURE)
# The operations behind a key: each answers 401, 403 and 429 before doing anything.
KEYED = {TRACK: "ingest", BATCH: "ingest", BATCH_STATUS: "read", STATUS: "read", SYNC: "admin",
         SYNC_RUN: "read", RECORDS: "read", RECORD: "read", CONFLICTS: "read", CONFLICT: "read",
         RESOLVE: "admin", METRICS: "read", PERSON: "read", PERSON_BY_QUERY: "read",
         PERSON_EXPORT: "read", PERSON_EXPORT_BY_QUERY: "read",
         SUPPRESSION: "admin", LIFT: "admin", EVENTS: "read", EXPORT_EVENTS: "read",
         **dict.fromkeys(VERBS, "ingest"), **ERASURE}
SAMPLE_PATH = {"batch_id": "b-none", "run_id": "r-none", "record_type": "note",
               "record_id": "r-none", "conflict_id": "c-none", "user_id": "nobody",
               "deletion_id": "d-none"}


def json_schema(node):
    """An OpenAPI 3.1 schema (JSON Schema 2020-12) where an object with named properties holds
    no others (an answer has no undocumented field)."""
    if isinstance(node, list):
        return [json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: json_schema(value) for key, value in node.items()}
    if "properties" in out and isinstance(out["properties"], dict) and "object" in (
            out.get("type") if isinstance(out.get("type"), list) else [out.get("type")]):
        out.setdefault("additionalProperties", False)
    return out


class Document:
    """The served OpenAPI document, checking answers against its operations."""

    def __init__(self, spec):
        self.spec = spec
        self.components = json_schema(spec["components"])

    def resolve(self, node):
        while "$ref" in node:
            section, name = node["$ref"].split("/")[-2:]
            node = self.spec["components"][section][name]
        return node

    def check(self, answer, operation, status=None):
        """Assert the answer is one the document gives for the operation; returns its JSON."""
        method, path = operation
        assert status is None or answer.status_code == status, answer.get_data(as_text=True)
        responses = self.spec["paths"][path][method]["responses"]
        code = str(answer.status_code)
        assert code in responses, f"{method.upper()} {path} answered {code}, not documented"
        documented = self.resolve(responses[code])
        for name, header in (documented.get("headers") or {}).items():
            if header.get("required"):
                assert name in answer.headers, f"{code} of {path} lacks its {name} header"
        body = answer.get_json(silent=True)
        content = documented.get("content") or {}
        if content and "application/json" not in content:
            # A file (the events export): its media type is one the document lists.
            assert answer.mimetype in content, f"{code} of {path} answered {answer.mimetype}"
            return answer.get_data(as_text=True)
        assert answer.mimetype == "application/json", answer.mimetype
        assert "application/json" in content, f"{code} of {path} documents no JSON body"
        schema = {**json_schema(content["application/json"]["schema"]),
                  "components": self.components}
        validator = jsonschema_rs.Draft202012Validator(schema, validate_formats=True)
        problems = [f"{'/'.join(map(str, e.instance_path))}: {e.message}"
                    for e in validator.iter_errors(body)]
        assert problems == [], f"{method.upper()} {path} {code}: {problems}\n{body}"
        return body


@pytest.fixture
def doc(client):
    return Document(client.get("/api/openapi.json").get_json())


def tracked(event_id):
    """A track body: an event with its userId."""
    body = {**event_item(event_id), "userId": "u1"}
    del body["itemType"]
    return body


def url(operation, **params):
    return operation[1].format(**{**SAMPLE_PATH, **params})


def call(client, operation, headers=None, **kwargs):
    method, _path = operation
    params = {key: kwargs.pop(key) for key in list(kwargs) if key in SAMPLE_PATH}
    return getattr(client, method)(url(operation, **params), headers=headers, **kwargs)


def test_every_operation_of_the_document_is_checked_here(doc):
    documented = {(method, path) for path, ops in doc.spec["paths"].items()
                  for method in ops if method != "parameters"}
    assert documented == OPERATIONS


def test_the_check_fails_on_an_answer_the_document_does_not_describe(client, auth, doc, app):
    """The checker itself: a wrong field, a missing field and an unlisted status all fail."""
    good = doc.check(client.post(url(TRACK), json=tracked("e1"), headers=auth), TRACK, 202)
    page = doc.check(client.get(url(CONFLICTS), headers=auth), CONFLICTS, 200)

    def answer(body, status=202):
        return app.response_class(json.dumps(body), status, mimetype="application/json")

    for body in ({**good, "extra": 1}, {"status": "accepted"}, {**good, "status": "kept"},
                 {**good, "eventId": None}):
        with pytest.raises(AssertionError):
            doc.check(answer(body), TRACK)
    with pytest.raises(AssertionError, match="not documented"):
        doc.check(answer(good, 201), TRACK)
    nested = {**page, "conflicts": [{"id": "c1", "undocumented": True}]}
    with pytest.raises(AssertionError, match="undocumented"):
        doc.check(answer(nested, 200), CONFLICTS)
    with pytest.raises(AssertionError):
        doc.check(answer({**page, "nextCursor": 5}, 200), CONFLICTS)


@pytest.mark.parametrize("operation", sorted(KEYED), ids=" ".join)
def test_keyed_operations_answer_401_403_and_429_as_documented(client, api_key, doc,
                                                               operation):
    doc.check(call(client, operation), operation, 401)
    doc.check(call(client, operation, headers={"X-API-Key": "pm_nope"}), operation, 401)
    lacking = "read" if KEYED[operation] != "read" else "ingest"
    doc.check(call(client, operation, headers={"Authorization": f"Bearer {api_key(lacking)}"}),
              operation, 403)
    headers = {"Authorization": f"Bearer {api_key('admin')}"}
    rate_limiter.per_minute = 1
    try:
        call(client, operation, headers=headers)
        answer = doc.check(call(client, operation, headers=headers), operation, 429)
    finally:
        rate_limiter.per_minute = 0
    assert answer["error"] == "rate_limited"


def test_track_answers(client, auth, doc, app):
    assert doc.check(client.post(url(TRACK), json=tracked("e1"), headers=auth), TRACK,
                     202)["status"] == "accepted"
    assert doc.check(client.post(url(TRACK), json=tracked("e1"), headers=auth), TRACK,
                     202)["status"] == "duplicate"
    bare = {"userId": "u1", "eventType": "app_opened"}
    doc.check(client.post(url(TRACK), json=bare, headers=auth), TRACK, 202)
    doc.check(client.post(url(TRACK), json={"userId": "u1"}, headers=auth), TRACK, 400)
    doc.check(client.post(url(TRACK), json={**tracked("e2"), "eventData": {"$x": 1}},
                          headers=auth), TRACK, 400)
    doc.check(client.post(url(TRACK), data=b"{nope", headers={
        **auth, "Content-Type": "application/json"}), TRACK, 400)
    doc.check(client.post(url(TRACK), data=b"{}", headers={**auth, "Content-Type": "text/plain"}),
              TRACK, 415)
    big = json.dumps({**tracked("e3"), "eventData": {"pad": "x" * app.config[
        "MAX_CONTENT_LENGTH"]}})
    doc.check(client.post(url(TRACK), data=big, headers={
        **auth, "Content-Type": "application/json"}), TRACK, 413)
    doc.check(client.post(url(TRACK), data=gzip.compress(big.encode()), headers={
        **auth, "Content-Type": "application/json", "Content-Encoding": "gzip"}), TRACK, 413)
    app.config["SYNC_MAX_QUEUE"] = 1
    answer = doc.check(client.post(url(TRACK), json=tracked("e4"), headers=auth), TRACK, 429)
    assert answer["error"] == "backlog_full"


@pytest.mark.parametrize("operation", sorted(VERBS), ids=" ".join)
def test_identity_verb_answers(client, auth, doc, app, operation):
    body = {**VERBS[operation], "eventId": "v1", "sentAt": "2026-11-28T10:00:05Z"}
    assert doc.check(call(client, operation, auth, json=body), operation,
                     202) == {"eventId": "v1", "status": "accepted"}
    assert doc.check(call(client, operation, auth, json=body), operation,
                     202)["status"] == "duplicate"
    made = doc.check(call(client, operation, auth, json=VERBS[operation]), operation, 202)
    assert made["eventId"] != "v1"
    doc.check(call(client, operation, auth, json={**body, "nope": 1}), operation, 400)
    doc.check(call(client, operation, auth, json={"metadata": {"a.b": 1}}), operation, 400)
    doc.check(call(client, operation, {**auth, "Content-Type": "application/json"},
                   data=b"{nope"), operation, 400)
    doc.check(call(client, operation, {**auth, "Content-Type": "text/plain"}, data=b"{}"),
              operation, 415)
    big = json.dumps({**body, "metadata": {"pad": "x" * app.config["MAX_CONTENT_LENGTH"]}})
    doc.check(call(client, operation, {**auth, "Content-Type": "application/json"}, data=big),
              operation, 413)
    app.config["SYNC_MAX_QUEUE"] = 1
    answer = doc.check(call(client, operation, auth, json={**body, "eventId": "v2"}),
                       operation, 429)
    assert answer["error"] == "backlog_full"


def test_people_answers(client, auth, doc, app, store):
    doc.check(call(client, PERSON, auth), PERSON, 404)
    doc.check(client.get(url(PERSON_BY_QUERY), query_string={"userId": "u1"}, headers=auth),
              PERSON_BY_QUERY, 404)
    doc.check(client.get(url(PERSON_BY_QUERY), headers=auth), PERSON_BY_QUERY, 400)
    doc.check(client.get(url(PERSON_BY_QUERY), query_string={"userId": "u1", "x": 1},
                         headers=auth), PERSON_BY_QUERY, 400)
    bare = {"userId": "u1"}
    client.post("/api/telemetry/identify", json=bare, headers=auth)
    sync(app, store)
    fresh = doc.check(call(client, PERSON, auth, user_id="u1"), PERSON, 200)
    assert (fresh["firstSeen"], fresh["eventCount"]) == (None, 0)
    send(client, auth, [event_item("e1"), {
        "itemType": "identify", "eventId": "i1", "anonymousId": "a1",
        "traits": {"plan": "pro", "nested": {"a": [1, 2]}}}, {
        "itemType": "group", "eventId": "g1", "groupId": "acme"}, {
        "itemType": "alias", "eventId": "al1", "previousId": "a1", "userId": "u1"}])
    sync(app, store)
    person = doc.check(call(client, PERSON, auth, user_id="u1"), PERSON, 200)
    assert person["anonymousIds"] == ["a1"] and person["groups"] == ["acme"]
    assert doc.check(client.get(url(PERSON_BY_QUERY), query_string={"userId": "u1"},
                                headers=auth), PERSON_BY_QUERY, 200) == person


def test_person_export_answers(client, auth, doc, app, store):
    doc.check(call(client, PERSON_EXPORT, auth), PERSON_EXPORT, 404)
    by_query = url(PERSON_EXPORT_BY_QUERY)
    doc.check(client.get(by_query, query_string={"userId": "a/b"}, headers=auth),
              PERSON_EXPORT_BY_QUERY, 404)
    doc.check(client.get(by_query, headers=auth), PERSON_EXPORT_BY_QUERY, 400)
    send(client, auth, [event_item("e1"), edit("r1", "n1", 0, {"title": "x"}), {
        "itemType": "identify", "eventId": "i1", "anonymousId": "a1", "traits": {"plan": "pro"}}])
    sync(app, store)
    send(client, auth, [edit("r2", "n1", 0, {"title": "y"}, conflictResolution="manual")])
    sync(app, store)
    exported = doc.check(call(client, PERSON_EXPORT, auth, user_id="u1"), PERSON_EXPORT, 200)
    assert exported["profile"]["anonymousIds"] == ["a1"]
    assert exported["records"] and exported["conflicts"] and exported["batches"]
    again = doc.check(client.get(by_query, query_string={"userId": "u1"}, headers=auth),
                      PERSON_EXPORT_BY_QUERY, 200)
    assert {**again, "exportedAt": None} == {**exported, "exportedAt": None}


def test_suppression_answers(client, auth, doc, app, store):
    from app.accounts.privacy import EVENT, id_hashes, person_hash

    who = {"userId": "u1"}
    assert doc.check(client.get(url(SUPPRESSION), query_string=who, headers=auth),
                     SUPPRESSION, 200)["suppressed"] is False
    for person in ("u1", "a1"):  # (the verbs' bodies name one or the other)
        store.add_suppression("testapp", person_hash(app.config, "testapp", person), utcnow())
    store.add_tombstones("testapp", EVENT, id_hashes(app.config, EVENT, "testapp", ["old"])
                         .values(), utcnow())
    assert doc.check(client.get(url(SUPPRESSION), query_string=who, headers=auth),
                     SUPPRESSION, 200)["suppressed"] is True
    # What a suppressed person's items and an erased id are answered, on every ingest path.
    assert doc.check(client.post(url(TRACK), json=tracked("e1"), headers=auth), TRACK,
                     202)["status"] == "suppressed"
    assert doc.check(client.post(url(TRACK), json=tracked("old"), headers=auth), TRACK,
                     202)["status"] == "duplicate"
    for operation, body in VERBS.items():
        answer = doc.check(call(client, operation, auth, json={**body, "eventId": "v1"}),
                           operation, 202)
        assert answer["status"] == "suppressed", operation
    answer = doc.check(client.post(url(BATCH), json=batch(
        [event_item("e2"), event_item("old"), {**event_item("e3"), "userId": "u2"},
         {"eventType": 5}], batch_id="b1"), headers=auth), BATCH, 202)
    assert [r["status"] for r in answer["results"]] == [
        "suppressed", "duplicate", "accepted", "rejected"]
    log = doc.check(call(client, BATCH_STATUS, auth, batch_id="b1"), BATCH_STATUS, 200)
    assert log["suppressedCount"] == 1

    assert doc.check(client.delete(url(LIFT), query_string=who, headers=auth), LIFT,
                     200)["lifted"] is True
    assert doc.check(client.delete(url(LIFT), query_string=who, headers=auth), LIFT,
                     200)["lifted"] is False
    for operation in (SUPPRESSION, LIFT):
        doc.check(call(client, operation, auth), operation, 400)
        doc.check(call(client, operation, auth, query_string={"userId": "u1", "x": 1}),
                  operation, 400)
        doc.check(call(client, operation, auth, query_string={"userId": ""}), operation, 400)


def test_erasure_answers(client, auth, doc, app, store):
    from app.privacy.erasure import run_deletions

    send(client, auth, [event_item("e1")])
    sync(app, store)
    made = doc.check(call(client, ERASE, auth, user_id="u1", query_string={
        "suppress": "true"}), ERASE, 202)
    assert made["status"] == "pending"
    doc.check(call(client, ERASE, auth, query_string={"suppress": "maybe"}), ERASE, 400)
    by_query = doc.check(client.delete(url(ERASE_BY_QUERY), query_string={"userId": "a/b c"},
                                       headers=auth), ERASE_BY_QUERY, 202)
    doc.check(client.delete(url(ERASE_BY_QUERY), headers=auth), ERASE_BY_QUERY, 400)
    doc.check(call(client, DELETION, auth, deletion_id=made["deletionId"]), DELETION, 200)
    run_deletions(store, app.config)
    done = doc.check(call(client, DELETION, auth, deletion_id=by_query["deletionId"]),
                     DELETION, 200)
    assert done["status"] == "done"
    doc.check(call(client, DELETION, auth), DELETION, 404)


def test_batch_answers(client, auth, doc, app):
    items = [event_item("e1"), event_item("e2", eventData={"$bad": 1}), {"eventType": 5},
             record_item("r-edit-1"), {**record_item("r-edit-2"), "conflictResolution": "merge",
                                       "priority": 3, "clientId": "c1", "seq": 7},
             *({**VERBS[op], "itemType": op[1].rsplit("/", 1)[1], "eventId": f"v-{n}"}
               for n, op in enumerate(sorted(VERBS))),
             {"itemType": "identify", "traits": []}]
    body = batch(items, batch_id="b1", clientId="c1", sentAt="2026-11-28T10:00:05Z")
    first = doc.check(client.post(url(BATCH), json=body, headers=auth), BATCH, 202)
    assert [r["status"] for r in first["results"]] == [
        "accepted", "rejected", "rejected", "accepted", "accepted", *["accepted"] * len(VERBS),
        "rejected"]
    doc.check(client.post(url(BATCH), json=body, headers=auth), BATCH, 202)
    doc.check(client.post(url(BATCH), json=batch([event_item("e1")]), headers=auth), BATCH, 202)
    doc.check(client.post(url(BATCH), json=batch([event_item("x")], batch_id="b1"),
                          headers=auth), BATCH, 409)
    doc.check(client.post(url(BATCH), json=batch([{"eventType": 5}]), headers=auth), BATCH, 400)
    doc.check(client.post(url(BATCH), json={"batchId": "b2", "items": [], "extra": 1},
                          headers=auth), BATCH, 400)
    doc.check(client.post(url(BATCH), data=b"[", headers={
        **auth, "Content-Type": "application/json"}), BATCH, 400)
    doc.check(client.post(url(BATCH), data=b"x", headers={
        **auth, "Content-Type": "application/json", "Content-Encoding": "br"}), BATCH, 415)
    app.config["MAX_BATCH_ITEMS"] = 2
    doc.check(client.post(url(BATCH), json=batch([event_item() for _ in range(3)]),
                          headers=auth), BATCH, 413)
    app.config["SYNC_MAX_QUEUE"] = 1
    doc.check(client.post(url(BATCH), json=batch([event_item("e9")]), headers=auth), BATCH, 429)


def test_batch_status_and_status_answers(client, auth, doc, app, store):
    client.post(url(BATCH), json=batch([event_item("e1"), {"eventType": 5}], batch_id="b1"),
                headers=auth)
    doc.check(call(client, BATCH_STATUS, auth, batch_id="b1"), BATCH_STATUS, 200)
    doc.check(call(client, BATCH_STATUS, auth), BATCH_STATUS, 404)
    doc.check(client.get(url(STATUS), headers=auth), STATUS, 200)
    doc.check(client.get(url(STATUS), query_string={"userId": "u1"}, headers=auth), STATUS, 200)
    doc.check(client.get(url(STATUS), query_string={"nope": 1}, headers=auth), STATUS, 400)
    sync(app, store)
    answer = doc.check(client.get(url(STATUS), query_string={"userId": "u1"}, headers=auth),
                       STATUS, 200)
    assert answer["syncStatus"]["lastSyncTime"] is not None
    doc.check(call(client, BATCH_STATUS, auth, batch_id="b1"), BATCH_STATUS, 200)


def test_sync_answers(client, auth, doc, app, store):
    send(client, auth, [event_item("e1"), edit("v1", "r1", 0, {"t": 1})])
    with held_runs(app) as held:
        started = doc.check(client.post(url(SYNC), headers=auth), SYNC, 202)
        assert held.reached.wait(10)
        busy = doc.check(client.post(url(SYNC), headers=auth), SYNC, 409)
        assert busy["runId"] == started["runId"]
        doc.check(call(client, SYNC_RUN, auth, run_id=started["runId"]), SYNC_RUN, 200)
    # The run records its end, then lets the lease go: wait for both.
    assert wait_for(lambda: lease_holder(store) is None, seconds=10)
    ended = doc.check(call(client, SYNC_RUN, auth, run_id=started["runId"]), SYNC_RUN, 200)
    assert ended["state"] == "done"
    doc.check(call(client, SYNC_RUN, auth), SYNC_RUN, 404)
    doc.check(client.post(url(SYNC), query_string={"wait": 100}, headers=auth), SYNC, 400)
    send(client, auth, [event_item("e2", event_type="x", eventData={"a": 1})])
    summary = doc.check(client.post(url(SYNC), query_string={"wait": 10}, headers=auth), SYNC,
                        200)
    assert summary["status"] == "success"
    now = utcnow()
    store.acquire_lock(LOCK_NAME, "another-host", now.replace(year=now.year + 1), now)
    assert doc.check(client.post(url(SYNC), headers=auth), SYNC, 409)["runId"] == "another-host"


def test_record_and_conflict_answers(client, auth, doc, app, store):
    conflict = manual_conflict(client, auth, store, app)
    doc.check(client.get(url(RECORDS), headers=auth), RECORDS, 200)
    doc.check(client.get(url(RECORDS), query_string={"recordType": "note", "since": 1,
                                                     "limit": 1}, headers=auth), RECORDS, 200)
    doc.check(client.get(url(RECORDS), query_string={"limit": 0}, headers=auth), RECORDS, 400)
    doc.check(call(client, RECORD, auth, record_id="r1"), RECORD, 200)
    doc.check(call(client, RECORD, auth), RECORD, 404)
    page = doc.check(client.get(url(CONFLICTS), query_string={"limit": 1}, headers=auth),
                     CONFLICTS, 200)
    assert [c["id"] for c in page["conflicts"]] == [str(conflict["id"])]
    doc.check(client.get(url(CONFLICTS), query_string={"status": "gone"}, headers=auth),
              CONFLICTS, 400)
    conflict_id = str(conflict["id"])
    doc.check(call(client, CONFLICT, auth, conflict_id=conflict_id), CONFLICT, 200)
    doc.check(call(client, CONFLICT, auth), CONFLICT, 404)
    doc.check(call(client, RESOLVE, auth, conflict_id=conflict_id, json={"resolution": "x"}),
              RESOLVE, 400)
    doc.check(call(client, RESOLVE, auth, conflict_id=conflict_id,
                   json={"resolution": "merged", "data": {"$x": 1}}), RESOLVE, 400)
    doc.check(call(client, RESOLVE, auth, json={"resolution": "server"}), RESOLVE, 404)
    resolved = doc.check(call(client, RESOLVE, auth, conflict_id=conflict_id,
                              json={"resolution": "merged", "data": {"title": "both"}}),
                         RESOLVE, 200)
    assert resolved["status"] == "resolved"
    doc.check(call(client, RESOLVE, auth, conflict_id=conflict_id,
                   json={"resolution": "server"}), RESOLVE, 409)
    doc.check(call(client, CONFLICT, auth, conflict_id=conflict_id), CONFLICT, 200)
    doc.check(client.get(url(CONFLICTS), query_string={"status": "resolved"}, headers=auth),
              CONFLICTS, 200)


def test_metrics_answers(client, auth, doc, app, store):
    doc.check(client.get(url(METRICS), headers=auth), METRICS, 200)
    send(client, auth, [event_item("e1"), event_item("e2", event_type="app_opened")])
    sync(app, store)
    answer = doc.check(client.get(url(METRICS), query_string={
        "from": "2020-01-01T00:00:00Z", "to": "2099-01-01T00:00:00Z"}, headers=auth), METRICS, 200)
    assert answer
    doc.check(client.get(url(METRICS), query_string={"from": "soon"}, headers=auth), METRICS, 400)


def test_events_answers(client, auth, doc, app, store):
    assert doc.check(client.get(url(EVENTS), headers=auth), EVENTS, 200)["events"] == []
    send(client, auth, [event_item("e1"), event_item("e2", event_type="app_opened")])
    sync(app, store)
    first = doc.check(client.get(url(EVENTS), query_string={"limit": 1}, headers=auth),
                      EVENTS, 200)
    assert len(first["events"]) == 1 and first["nextCursor"]
    doc.check(client.get(url(EVENTS), query_string={"cursor": first["nextCursor"],
                                                    "userId": "u1", "eventType": "app_opened",
                                                    "from": "2020-01-01T00:00:00Z"},
                         headers=auth), EVENTS, 200)
    for bad in ({"cursor": "nope"}, {"limit": 10 ** 30}, {"from": "soon"}):
        doc.check(client.get(url(EVENTS), query_string=bad, headers=auth), EVENTS, 400)
    for fmt in ("ndjson", "csv"):
        assert doc.check(client.get(url(EXPORT_EVENTS), query_string={"format": fmt},
                                    headers=auth), EXPORT_EVENTS, 200)
    doc.check(client.get(url(EXPORT_EVENTS), query_string={"format": "xml"}, headers=auth),
              EXPORT_EVENTS, 400)


def test_health_answers(client, auth, doc, app, store):
    doc.check(client.get(url(HEALTH)), HEALTH, 200)
    send(client, auth, [event_item("e1")])
    doc.check(client.get(url(HEALTH)), HEALTH, 200)
    doc.check(client.get(url(LIVE)), LIVE, 200)
    doc.check(client.get(url(READY)), READY, 200)


def answers_503_as_documented(client):
    doc = Document(client.get("/api/openapi.json").get_json())
    doc.check(client.get(url(HEALTH)), HEALTH, 503)
    doc.check(client.get(url(LIVE)), LIVE, 200)
    assert doc.check(client.get(url(READY)), READY, 503)["reason"] == "store_down"
    for operation in sorted(KEYED):
        answer = doc.check(call(client, operation, headers={"X-API-Key": "pm_any"}),
                           operation, 503)
        assert answer["error"] == "store_unavailable"


def test_answers_503_as_documented_when_the_store_is_down(client, store, monkeypatch):
    take_down(store, monkeypatch)
    answers_503_as_documented(client)


@pytest.mark.only_on("sqlite", reason="a real outage, a store file that cannot be opened; "
                     "the test above takes either store down through the port")
def test_answers_503_as_documented_when_the_sqlite_file_cannot_be_opened(tmp_path):
    (tmp_path / "file").write_text("")
    app = make_app(tmp_path, SQLITE_PATH=str(tmp_path / "file" / "db.sqlite3"))
    answers_503_as_documented(app.test_client())
