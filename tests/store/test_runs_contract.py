"""The store contract of sync runs' records, on every adapter (SQLite, mongomock, and MongoDB
when TEST_MONGODB_URI is set)."""

from datetime import timedelta

from app.store.common import utcnow


def run_doc(run_id, started=None):
    started = started or utcnow()
    return {"runId": run_id, "source": "manual", "requestedBy": "api:app1", "host": "h",
            "pid": 42, "state": "running", "startedAt": started, "heartbeatAt": started,
            "endedAt": None, "error": None, "progress": None, "batches": None}


def test_a_run_record_is_kept_changed_and_read_back_as_written(store):
    store.add_sync_run(run_doc("r1"))
    got = store.get_sync_run("r1")
    assert {k: got[k] for k in ("runId", "state", "requestedBy", "pid", "endedAt", "progress")} \
        == {"runId": "r1", "state": "running", "requestedBy": "api:app1", "pid": 42,
            "endedAt": None, "progress": None}
    assert got["startedAt"].tzinfo is not None
    progress = {"batches": 1, "itemCount": 2, "apps": [{"appId": "a.b$c", "itemCount": 2}]}
    assert store.update_sync_run("r1", {"progress": progress}, durable=False)
    assert store.get_sync_run("r1")["progress"] == progress
    ended = utcnow()
    batches = [{"batchId": "b1", "startTime": ended.isoformat(), "apps": [
        {"appId": "a.b$c", "errors": [{"itemId": "i\u00e9", "reason": "why"}]}]}]
    assert store.update_sync_run("r1", {"state": "done", "endedAt": ended, "batches": batches})
    got = store.get_sync_run("r1")
    assert got["state"] == "done" and got["batches"] == batches
    assert abs((got["endedAt"] - ended).total_seconds()) < 0.001
    assert store.get_sync_run("nope") is None
    assert store.update_sync_run("nope", {"state": "done"}) is False
    store.delete_sync_run("r1")
    assert store.get_sync_run("r1") is None


def test_retention_removes_old_run_records(store):
    store.add_sync_run(run_doc("old", utcnow() - timedelta(days=40)))
    store.add_sync_run(run_doc("new"))
    removed = store.prune_expired(utcnow() - timedelta(days=30))
    assert removed["sync_runs"] == 1
    assert store.get_sync_run("old") is None and store.get_sync_run("new") is not None
