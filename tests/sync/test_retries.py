"""Temporary errors retry with exponential backoff and jitter, then go dead; seq gaps hold."""

import pytest

from app.store import StoreUnavailable
from app.store.port import ApplyNewEvents
from app.sync.settings import backoff_delay
from tests.stored import telemetry_count

from .helpers import edit, event, item, later, send, sync


@pytest.fixture
def app_config():
    return {"SYNC_MAX_RETRIES": 3, "SYNC_BACKOFF_BASE_SECONDS": 10,
            "SYNC_BACKOFF_MAX_SECONDS": 25}


@pytest.fixture
def flaky_records(store, monkeypatch):
    """Record writes fail as if the store were unreachable, until `heal()` is called."""

    def fail(doc, expected_version):
        raise StoreUnavailable("connection reset")

    monkeypatch.setattr(store, "write_record", fail)
    return lambda: monkeypatch.undo()


def test_backoff_doubles_is_capped_and_jittered():
    assert backoff_delay(1, 10, 25, rand=lambda: 0.0) == 5
    assert backoff_delay(1, 10, 25, rand=lambda: 1.0) == 10
    assert backoff_delay(2, 10, 25, rand=lambda: 1.0) == 20
    assert backoff_delay(3, 10, 25, rand=lambda: 1.0) == 25
    assert backoff_delay(9, 10, 25, rand=lambda: 0.0) == 12.5


def test_a_temporary_error_retries_with_growing_delays_then_goes_dead(
        client, auth, store, app, flaky_records):
    send(client, auth, [edit("i1", "r1", 0, {"t": 1}), event("e1")])
    now = later(0)
    [log] = sync(app, store, at=now)
    assert (log["failureCount"], log["successCount"], log["status"]) == (1, 1, "partial")
    waits = []
    for attempt in range(1, 4):
        failed = item(store, "i1")
        assert (failed["status"], failed["attempts"]) == ("failed", attempt)
        assert "connection reset" in failed["lastError"]
        wait = (failed["nextAttemptAt"] - now).total_seconds()
        waits.append(wait)
        # Not due before its time: a run now claims nothing.
        assert sync(app, store, at=now)[0]["itemCount"] == 0
        now = failed["nextAttemptAt"]
        sync(app, store, at=now)
    assert 5 <= waits[0] <= 10 and 10 <= waits[1] <= 20 and 12.5 <= waits[2] <= 25
    dead = item(store, "i1")
    assert (dead["status"], dead["attempts"]) == ("dead", 4)
    assert dead["lastError"].startswith("gave up after 4 attempts")


def test_an_item_that_recovers_applies_on_its_retry(client, auth, store, app, flaky_records):
    send(client, auth, [edit("i1", "r1", 0, {"t": 1})])
    sync(app, store)
    flaky_records()
    sync(app, store, at=item(store, "i1")["nextAttemptAt"])
    assert item(store, "i1")["status"] == "done"
    assert store.get_record("testapp", "note", "r1")["data"] == {"t": 1}


def test_a_store_outage_during_a_batch_retries_the_whole_batch(
        client, auth, store, app, monkeypatch):
    send(client, auth, [event("e1"), event("e2")])

    def down(*args, **kwargs):
        raise StoreUnavailable("disk I/O error")

    monkeypatch.setattr(store, "insert_events", down)
    if store.capability(ApplyNewEvents) is not None:  # SQLite's whole-batch path fails too
        monkeypatch.setattr(store, "capability",
                            lambda kind: down if kind is ApplyNewEvents else None)
    [log] = sync(app, store)
    assert (log["status"], log["failureCount"]) == ("error", 2)
    assert telemetry_count(store) == 0
    assert store.queue_counts() == {"failed": 2}
    monkeypatch.undo()
    sync(app, store, at=later(11))
    assert store.queue_counts() == {"done": 2}
    assert telemetry_count(store) == 2


def test_seq_at_or_below_the_last_applied_is_a_duplicate(client, auth, store, app):
    send(client, auth, [event("a", seq=1), event("b", seq=2)], clientId="c1")
    sync(app, store)
    send(client, auth, [event("c", seq=2)], clientId="c1")
    [log] = sync(app, store)
    assert log["duplicateCount"] == 1
    assert store.get_event("testapp", "c") is None


def test_a_seq_gap_holds_items_until_the_missing_one_arrives(client, auth, store, app):
    send(client, auth, [event("s1", seq=1)], clientId="c1")
    sync(app, store)
    send(client, auth, [event("s3", seq=3), event("s4", seq=4)], clientId="c1")
    [log] = sync(app, store)
    assert log["successCount"] == 0
    held = item(store, "s3")
    assert held["status"] == "pending" and held["attempts"] == 0
    assert "waiting for seq 2 of client c1" in held["lastError"]
    send(client, auth, [event("s2", seq=2)], clientId="c1")
    logs = sync(app, store, at=later(3))
    assert sum(log["successCount"] for log in logs) == 3
    assert store.queue_counts() == {"done": 4}


def test_one_clients_items_apply_in_seq_order_within_a_batch(client, auth, store, app):
    send(client, auth, [event("second", seq=2), event("first", seq=1)], clientId="c1")
    [log] = sync(app, store)
    assert [r["itemId"] for r in log["results"]] == ["first", "second"]
    assert log["successCount"] == 2


@pytest.mark.parametrize("app_config", [{"SYNC_SEQ_HOLD_SECONDS": 30}])
def test_a_gap_that_never_fills_is_skipped_after_the_hold(client, auth, store, app):
    send(client, auth, [event("s1", seq=1)], clientId="c1")
    sync(app, store)
    send(client, auth, [event("s3", seq=3)], clientId="c1")
    sync(app, store, at=later(10))
    assert item(store, "s3")["status"] == "pending"
    sync(app, store, at=later(31))
    assert item(store, "s3")["status"] == "done"
    send(client, auth, [event("s2", seq=2)], clientId="c1")
    [log] = sync(app, store, at=later(32))
    assert log["duplicateCount"] == 1


@pytest.mark.logs_errors  # the engine logs the unexpected failure with its traceback
def test_an_item_that_breaks_unexpectedly_is_dead_and_the_rest_apply(
        client, auth, store, app, monkeypatch):
    send(client, auth, [edit("bad", "r1", 0, {"t": 1}), edit("good", "r2", 0, {"t": 1}),
                        event("e1")])
    version_written_by = store.version_written_by

    def broken(app_id, item_id):
        if item_id == "bad":
            raise RuntimeError("unexpected")
        return version_written_by(app_id, item_id)

    monkeypatch.setattr(store, "version_written_by", broken)
    [log] = sync(app, store)
    assert (log["successCount"], log["failureCount"]) == (2, 1)
    assert item(store, "bad")["status"] == "dead"
    assert "unexpected" in item(store, "bad")["lastError"]
    assert store.get_record("testapp", "note", "r1") is None
