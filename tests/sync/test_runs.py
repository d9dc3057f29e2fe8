"""POST /api/telemetry/sync starts a run and answers at once; the run's URL follows it to its
summary, which counts the calling app's items only; 409 names the run already going; a run
that stops without finishing is reported abandoned."""

import threading
import time

import pytest

from app.extensions import store as store_ext
from app.sync import scheduling
from app.sync.jobs import LOCK_NAME
from app.sync.runs import lease_holder
from tests.waiting import wait_for

from .helpers import edit, event, held_runs, send

pytestmark = pytest.mark.both_stores

COUNTS = ("itemCount", "successCount", "failureCount", "duplicateCount", "conflictCount")


@pytest.fixture
def app_config():
    # Two items a batch: a few items make a run of several batches.
    return {"SYNC_BATCH_SIZE": 2}


def headers(api_key, app_name):
    return {"Authorization": f"Bearer {api_key('ingest,read,admin', app_name)}"}


def follow(client, auth, url, until=("done", "error", "abandoned"), seconds=10):
    """GET a run's URL until its state is one of `until`; returns the last answer's body. A
    run that has ended is waited for until it has let its lease go too."""
    answers = []

    def reached():
        response = client.get(url, headers=auth)
        assert response.status_code == 200, response.get_json()
        answers.append(response.get_json())
        return answers[-1]["state"] in until

    assert wait_for(reached, seconds), answers[-1]
    if answers[-1]["endedAt"]:
        the_store = store_ext.get(client.application)
        assert wait_for(lambda: lease_holder(the_store) != answers[-1]["runId"])
    return answers[-1]


def counts(body):
    return tuple(body[key] for key in COUNTS)


def test_a_sync_answers_at_once_and_its_url_follows_the_run_to_its_summary(app, client, auth,
                                                                           store):
    send(client, auth, [event(f"e{n}") for n in range(3)])
    with held_runs(app) as held:
        response = client.post("/api/telemetry/sync", headers=auth)
        assert response.status_code == 202
        run = response.get_json()
        url = response.headers["Location"]
        assert url == run["statusUrl"] == f"/api/telemetry/sync/runs/{run['runId']}"
        assert run["state"] == "running" and run["summary"] is None
        assert held.reached.wait(5)
        # Held after its first batch: the run goes on while its URL says how far it got.
        going = client.get(url, headers=auth).get_json()
        assert going["state"] == "running" and going["summary"] is None
        assert going["progress"] == {"batches": 1, "itemCount": 2, "successCount": 2,
                                     "failureCount": 0, "duplicateCount": 0,
                                     "conflictCount": 0}
        assert store.queue_counts() == {"done": 2, "pending": 1}
        held.release()
        done = follow(client, auth, url)
    assert done["state"] == "done" and done["error"] is None and done["endedAt"]
    assert done["progress"]["batches"] == 2
    summary = done["summary"]
    assert counts(summary) == (3, 3, 0, 0, 0) and summary["status"] == "success"
    assert [b["itemCount"] for b in summary["batches"]] == [2, 1]
    assert summary["errors"] == []
    assert store.queue_counts() == {"done": 3}


def test_wait_answers_the_summary_when_the_run_finishes_in_time(client, auth, store):
    send(client, auth, [event("e1"), edit("r1", "note-1", 5, {"t": 1})])
    response = client.post("/api/telemetry/sync?wait=10", headers=auth)
    assert response.status_code == 200
    summary = response.get_json()
    assert response.headers["Location"].startswith("/api/telemetry/sync/runs/")
    assert counts(summary) == (2, 1, 1, 0, 0) and summary["status"] == "partial"
    assert [(e["itemId"], e["status"]) for e in summary["errors"]] == [("r1", "dead")]
    assert "ahead" in summary["errors"][0]["reason"]
    assert store.queue_counts() == {"done": 1, "dead": 1}


def test_wait_answers_202_when_the_run_does_not_finish_in_time(app, client, auth, store):
    send(client, auth, [event(f"e{n}") for n in range(3)])
    with held_runs(app) as held:
        started = time.monotonic()
        response = client.post("/api/telemetry/sync?wait=0.3", headers=auth)
        assert time.monotonic() - started >= 0.3
        assert response.status_code == 202
        run = response.get_json()
        assert run["state"] == "running" and run["progress"]["itemCount"] == 2
        held.release()
        done = follow(client, auth, response.headers["Location"])
    assert counts(done["summary"]) == (3, 3, 0, 0, 0)


def test_a_bad_wait_answers_400_naming_it_and_starts_nothing(client, auth, store):
    send(client, auth, [event("e1")])
    for wait in ("0", "-1", "20.001", "21", "abc", "", "nan", "inf", "1e3", "0x10"):
        response = client.post(f"/api/telemetry/sync?wait={wait}", headers=auth)
        assert response.status_code == 400, wait
        body = response.get_json()
        assert body["error"] == "validation_error" and list(body["fields"]) == ["wait"], wait
    assert store.queue_counts() == {"pending": 1}
    assert store.get_lock(LOCK_NAME) is None and store.sync_logs() == []
    # Any time up to 20 seconds is fine.
    short = client.post("/api/telemetry/sync?wait=0.001", headers=auth)
    assert short.status_code in (200, 202)
    follow(client, auth, short.headers["Location"])
    assert client.post("/api/telemetry/sync?wait=20", headers=auth).status_code == 200


def test_409_names_the_run_already_going(app, client, auth, api_key, store):
    send(client, auth, [event(f"e{n}") for n in range(3)])
    other = headers(api_key, "otherapp")
    with held_runs(app) as held:
        first = client.post("/api/telemetry/sync", headers=auth)
        assert held.reached.wait(5)
        busy = client.post("/api/telemetry/sync?wait=1", headers=other)
        assert busy.status_code == 409
        body = busy.get_json()
        assert body["error"] == "sync_in_progress" and body["message"]
        assert body["runId"] == first.get_json()["runId"]
        assert busy.headers["Location"] == body["statusUrl"] == first.headers["Location"]
        # The other app follows the run too, and sees none of testapp's items in it.
        going = client.get(busy.headers["Location"], headers=other).get_json()
        assert going["state"] == "running" and going["progress"]["itemCount"] == 0
        held.release()
        done = follow(client, auth, first.headers["Location"])
    assert counts(done["summary"]) == (3, 3, 0, 0, 0)
    assert client.post("/api/telemetry/sync?wait=10", headers=auth).status_code == 200


def test_a_scheduled_run_is_recorded_and_409_names_it(app, client, auth, store):
    send(client, auth, [event(f"e{n}") for n in range(3)])
    with held_runs(app) as held:
        # What the scheduler's job (and `flask sync run`) runs: a run in the calling thread.
        scheduled = threading.Thread(target=scheduling.run_exclusive, args=(app, "scheduled"),
                                     kwargs={"requested_by": "scheduler"})
        scheduled.start()
        assert held.reached.wait(5)
        busy = client.post("/api/telemetry/sync", headers=auth)
        assert busy.status_code == 409
        going = client.get(busy.headers["Location"], headers=auth).get_json()
        assert (going["source"], going["state"]) == ("scheduled", "running")
        assert going["progress"]["itemCount"] == 2
        held.release()
        scheduled.join(10)
    done = client.get(busy.headers["Location"], headers=auth).get_json()
    assert done["state"] == "done" and done["summary"]["itemCount"] == 3


@pytest.mark.parametrize("app_config", [{"SYNC_BATCH_SIZE": 2, "SYNC_LEASE_SECONDS": 1}])
def test_a_run_that_stalls_past_its_lease_is_reported_abandoned(app, client, auth, store):
    send(client, auth, [event(f"e{n}") for n in range(5)])
    with held_runs(app) as held:
        stalled = client.post("/api/telemetry/sync", headers=auth)
        url = stalled.headers["Location"]
        assert held.reached.wait(5)
        # No heartbeat for longer than its lease: the run is taken for dead.
        gone = follow(client, auth, url, until=("abandoned",), seconds=5)
        assert "stopped without finishing" in gone["error"]
        assert gone["summary"] is None and gone["progress"]["itemCount"] == 2
        # It no longer holds the sync back: the next run takes over and applies the rest.
        response = client.post("/api/telemetry/sync?wait=10", headers=auth)
        assert response.status_code == 200 and response.get_json()["itemCount"] == 3
        assert store.queue_counts() == {"done": 5}
        assert client.get(url, headers=auth).get_json()["state"] == "abandoned"
        # Let go, the stalled run finds nothing left to do and ends.
        held.release()
        ended = follow(client, auth, url, until=("done",))
    assert counts(ended["summary"]) == (2, 2, 0, 0, 0)
    assert store.queue_counts() == {"done": 5}


def test_each_app_is_told_its_own_counts_and_errors(client, auth, api_key, store):
    other = headers(api_key, "otherapp")
    send(client, auth, [event("a1"), event("a2"), edit("a-bad", "n1", 5, {"t": 1})])
    send(client, other, [event("b1"), event("b2"), event("b3"),
                         edit("b-bad", "n1", 7, {"t": 2})])
    response = client.post("/api/telemetry/sync?wait=10", headers=auth)
    assert response.status_code == 200
    mine = response.get_json()
    assert counts(mine) == (3, 2, 1, 0, 0) and mine["status"] == "partial"
    assert [e["itemId"] for e in mine["errors"]] == ["a-bad"]
    assert sum(b["itemCount"] for b in mine["batches"]) == 3
    # The other app reads the same run and is told of its own items only.
    theirs = client.get(response.headers["Location"], headers=other).get_json()
    assert counts(theirs["summary"]) == (4, 3, 1, 0, 0)
    assert [e["itemId"] for e in theirs["summary"]["errors"]] == ["b-bad"]
    assert theirs["progress"]["itemCount"] == 4
    assert store.queue_counts() == {"done": 5, "dead": 2}


def test_following_a_run_needs_a_read_key_and_a_known_run(client, api_key):
    assert client.get("/api/telemetry/sync/runs/x").status_code == 401
    weak = {"Authorization": f"Bearer {api_key('ingest')}"}
    assert client.get("/api/telemetry/sync/runs/x", headers=weak).status_code == 403
    reader = {"Authorization": f"Bearer {api_key('read')}"}
    response = client.get("/api/telemetry/sync/runs/no-such-run", headers=reader)
    assert response.status_code == 404 and response.get_json()["error"] == "not_found"


def test_the_openapi_document_declares_the_run_and_its_answers(client):
    spec = client.get("/api/openapi.json").get_json()
    post = spec["paths"]["/api/telemetry/sync"]["post"]
    answers = post["responses"]
    assert {"200", "202", "400", "409"} <= set(answers)
    assert all("Location" in answers[status]["headers"] for status in ("200", "202", "409"))
    assert [p["name"] for p in post["parameters"]] == ["wait"]
    assert {"runId", "statusUrl", "error", "message", "fields"} <= set(
        spec["components"]["schemas"]["SyncBusy"]["properties"])
    assert {"state", "progress", "summary"} <= set(
        spec["components"]["schemas"]["SyncRunStatus"]["properties"])
    assert "200" in spec["paths"]["/api/telemetry/sync/runs/{run_id}"]["get"]["responses"]
