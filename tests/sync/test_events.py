"""Events through the engine: applied once, duplicates dropped, re-used ids with another payload
kept as conflicts, batch logs written."""

from datetime import timedelta

from app.store.common import utcnow
from tests.stored import backdate, telemetry_count

from .helpers import event, item, send, sync


def test_accepted_events_land_in_telemetry_with_server_metadata(client, auth, store, app):
    send(client, auth, [event("e1", metadata={"clientTimestamp": "2026-01-02T03:04:05Z",
                                              "os": "ios"})],
         sentAt="2026-01-02T03:04:06Z")
    [log] = sync(app, store)
    assert (log["itemCount"], log["successCount"], log["status"]) == (1, 1, "success")
    stored = store.get_event("testapp", "e1")
    assert stored["eventType"] == "practice_question_answered"
    assert stored["eventData"] == {"questionId": "q1"}
    assert stored["metadata"]["os"] == "ios"
    assert stored["metadata"]["clientTimestamp"] == "2026-01-02T03:04:05Z"
    assert stored["metadata"]["receivedAt"] and stored["metadata"]["skewMs"] is not None
    assert store.queue_counts() == {"done": 1}


def test_an_event_sent_twice_is_stored_once(client, auth, store, app):
    send(client, auth, [event("e1")])
    sync(app, store)
    answer = send(client, auth, [event("e1")])
    assert answer["duplicates"] == 1
    [log] = sync(app, store)
    assert log["itemCount"] == 0
    assert telemetry_count(store) == 1


def test_a_stored_event_sent_again_with_new_ones_is_a_duplicate_and_the_rest_apply(
        client, auth, store, app):
    send(client, auth, [event("e1")])
    sync(app, store)
    # Its queue entry is gone (retention removes done entries), so ingest takes it again.
    long_ago = utcnow() - timedelta(days=31)
    backdate(store, ["e1"], long_ago)
    store.prune_expired(long_ago + timedelta(seconds=1))
    assert item(store, "e1") is None
    send(client, auth, [event("e0"), event("e1"), event("e2")])
    [log] = sync(app, store)
    assert (log["successCount"], log["duplicateCount"]) == (2, 1)
    assert [(r["itemId"], r["status"]) for r in log["results"]] == [
        ("e0", "applied"), ("e1", "duplicate"), ("e2", "applied")]
    assert telemetry_count(store) == 3
    assert [r["count"] for r in store.event_type_counts()] == [3]


def test_a_reused_event_id_with_another_payload_becomes_a_conflict_keeping_both(
        client, auth, store, app):
    send(client, auth, [event("e1", eventData={"questionId": "q1"})])
    sync(app, store)
    send(client, auth, [event("e1", eventData={"questionId": "q2"})])
    [log] = sync(app, store)
    assert (log["conflictCount"], log["successCount"]) == (1, 0)
    [conflict] = store.list_conflicts("testapp", status="open")
    assert conflict["kind"] == "event" and conflict["recordId"] == "e1"
    assert conflict["server"]["eventData"] == {"questionId": "q1"}
    assert conflict["client"]["eventData"] == {"questionId": "q2"}
    assert conflict["fields"] == ["eventData"]
    assert store.get_event("testapp", "e1")["eventData"] == {"questionId": "q1"}
    assert store.queue_counts() == {"done": 1, "conflict": 1}


def test_both_payloads_in_one_sync_still_conflict(client, auth, store, app):
    send(client, auth, [event("e1", eventData={"questionId": "q1"})])
    send(client, auth, [event("e1", eventData={"questionId": "q2"})])
    [log] = sync(app, store)
    assert (log["successCount"], log["conflictCount"]) == (1, 1)
    assert store.get_event("testapp", "e1")["eventData"] == {"questionId": "q1"}


def test_higher_priority_items_apply_first(client, auth, store, app):
    send(client, auth, [event("low"), event("high", priority=5), event("mid", priority=1)])
    logs = sync(app, store, SYNC_BATCH_SIZE=1)
    assert [log["results"][0]["itemId"] for log in logs] == ["high", "mid", "low"]


def test_a_run_drains_the_queue_in_batches_and_logs_each(client, auth, store, app):
    send(client, auth, [event() for _ in range(25)])
    logs = sync(app, store, SYNC_BATCH_SIZE=10)
    assert [log["itemCount"] for log in logs] == [10, 10, 5]
    assert all(log["source"] == "manual" and log["appId"] is None for log in logs)
    assert len({log["batchId"] for log in logs}) == 3
    assert store.queue_counts() == {"done": 25}
    assert [log["batchId"] for log in store.sync_logs()] == [log["batchId"] for log in logs][::-1]


def test_a_run_with_nothing_due_still_leaves_a_log(store, app):
    [log] = sync(app, store)
    assert (log["itemCount"], log["status"]) == (0, "success")
    assert store.last_sync_run()["batchId"] == log["batchId"]


def test_the_run_stops_at_its_time_budget(client, auth, store, app):
    send(client, auth, [event() for _ in range(30)])
    logs = sync(app, store, SYNC_BATCH_SIZE=10, SYNC_RUN_BUDGET_SECONDS=0)
    assert len(logs) == 1
    assert store.queue_counts() == {"done": 10, "pending": 20}
