"""The store contract for counts and metrics: every adapter gives the same, hand-computed answers.

One small fixture (a dozen events over two apps, three types and three days; queue items in
every state; sync runs and a client batch; open and resolved conflicts) and, for each count
operation the API, the console and /metrics read, the answer worked out by hand.
"""

from datetime import UTC, datetime, timedelta

import pytest

from app.ingest.queue import enqueue
from app.ingest.validate import encode, payload_hash
from app.store.common import QUEUE_STATES
from app.store.port import ApplyNewEvents
from app.sync.documents import telemetry_document

from .helpers import queue_item

pytestmark = pytest.mark.both_stores

T = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


def at(text):
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# (eventId, appId, userId, eventType, timestamp): app1 has 8, app2 has 4.
EVENTS = [
    *[(f"a1-view-{n}", "app1", "ann", "lesson_viewed", "2026-01-01T10:00:00") for n in range(3)],
    *[(f"a1-view-late-{n}", "app1", "bob", "lesson_viewed", "2026-01-02T09:00:00")
      for n in range(2)],
    ("a1-quiz-0", "app1", "ann", "quiz_started", "2026-01-01T23:59:59"),
    *[(f"a1-quiz-{n}", "app1", "bob", "quiz_started", "2026-01-02T00:00:00") for n in (1, 2)],
    *[(f"a2-view-{n}", "app2", "cat", "lesson_viewed", "2026-01-01T12:00:00") for n in range(3)],
    ("a2-open-0", "app2", "cat", "app_opened", "2026-01-03T08:00:00"),
]
# Queue items stored after the events were applied: (itemId, appId, userId, status).
WAITING = [
    ("p1", "app1", "ann", "pending"), ("p2", "app1", "ann", "pending"),
    ("f1", "app1", "ann", "failed"), ("d1", "app1", "bob", "dead"),
    ("c1", "app1", "ann", "conflict"),
    ("p3", "app2", "cat", "pending"), ("d2", "app2", "cat", "dead"), ("d3", "app2", "cat", "dead"),
]
# Batch logs: (batchId, source, start, seconds it took or None while running, items, failed).
RUNS = [
    ("early", "scheduled", T - timedelta(minutes=5), 1.5, 7, 0),
    ("r1", "scheduled", T + timedelta(seconds=10), 2, 5, 1),
    ("r2", "manual", T + timedelta(seconds=50), 10, 3, 0),
    ("client", "client", T + timedelta(seconds=60), 1, 100, 9),
    ("r3", "scheduled", T + timedelta(minutes=2), 30, 4, 2),
    ("running", "scheduled", T + timedelta(minutes=3), None, 0, 0),
]


def event(event_id, app_id, user_id, event_type, timestamp):
    data = {"eventId": event_id, "eventType": event_type, "eventData": {"n": 1}, "metadata": {}}
    item = queue_item(event_id, app_id=app_id, user_id=user_id, data=data)
    text = encode(data)
    item.update(itemData=text, payloadHash=payload_hash(user_id, "event", text),
                meta={"receivedAt": f"{timestamp}+00:00", "timestamp": f"{timestamp}+00:00"})
    return item


def apply_events(store):
    """Store EVENTS as telemetry the way the sync engine does, and mark their items done."""
    for app_id in ("app1", "app2"):
        enqueue(store, app_id, [event(*e) for e in EVENTS if e[1] == app_id])
    now = datetime.now(UTC)
    fast_path = store.capability(ApplyNewEvents)
    if fast_path is not None:  # as the sync engine applies them: SQLite stores them in SQL
        with store.unit_of_work():
            assert len(fast_path(now, 100)) == len(EVENTS)
        return
    with store.unit_of_work():
        items = store.claim_items(now, now + timedelta(minutes=5), 100)
        store.insert_events([telemetry_document(item, now) for item in items])
        store.finish_items([{"id": i["id"], "status": "done", "attempts": 1,
                             "leaseOwner": i.get("leaseOwner")} for i in items], now)
    assert len(items) == len(EVENTS)


def sync_log(batch_id, source, start, seconds, items, failed):
    return {"batchId": batch_id, "appId": None, "userId": None, "clientId": None,
            "source": source, "itemCount": items, "successCount": items - failed,
            "failureCount": failed, "duplicateCount": 0, "conflictCount": 0, "rejectedCount": 0,
            "startTime": start,
            "endTime": None if seconds is None else start + timedelta(seconds=seconds),
            "sentAt": None, "status": "success" if not failed else "partial", "errors": [],
            "results": []}


def conflict(item_id):
    return {"appId": "app1", "itemId": item_id, "kind": "record", "recordType": "note",
            "recordId": item_id, "base": {"v": 0}, "server": {"v": 1}, "client": {"v": 2},
            "fields": ["v"], "strategy": "manual", "status": "open", "resolution": None,
            "resolvedBy": None, "resolvedAt": None, "createdAt": T}


@pytest.fixture
def filled(store):
    apply_events(store)
    for item_id, app_id, user_id, status in WAITING:
        item = queue_item(item_id, app_id=app_id, user_id=user_id)
        item["status"] = status
        enqueue(store, app_id, [item])
    for run in RUNS:
        store.add_sync_log(sync_log(*run))
    opened = [store.add_conflict(conflict(f"k{n}")) for n in range(3)]
    assert store.close_conflict(opened[1]["id"], "server", "admin", T)
    return store


def test_event_counts_by_type_and_by_utc_day(filled):
    by_type, by_day = filled.event_counts("app1")
    assert by_type == [{"eventType": "lesson_viewed", "count": 5},
                       {"eventType": "quiz_started", "count": 3}]
    assert by_day == [
        {"day": "2026-01-01", "eventType": "lesson_viewed", "count": 3},
        {"day": "2026-01-01", "eventType": "quiz_started", "count": 1},
        {"day": "2026-01-02", "eventType": "lesson_viewed", "count": 2},
        {"day": "2026-01-02", "eventType": "quiz_started", "count": 2},
    ]


def test_event_counts_in_a_window(filled):
    by_type, by_day = filled.event_counts("app1", start=at("2026-01-01T23:59:58.500"),
                                          end=at("2026-01-02T08:59:59.500"))
    assert by_type == [{"eventType": "quiz_started", "count": 3}]
    assert by_day == [{"day": "2026-01-01", "eventType": "quiz_started", "count": 1},
                      {"day": "2026-01-02", "eventType": "quiz_started", "count": 2}]
    assert filled.event_counts("app1", start=at("2026-01-01T23:59:59.500")) == (
        [{"eventType": "lesson_viewed", "count": 2}, {"eventType": "quiz_started", "count": 2}],
        [{"day": "2026-01-02", "eventType": "lesson_viewed", "count": 2},
         {"day": "2026-01-02", "eventType": "quiz_started", "count": 2}])
    assert filled.event_counts("app1", end=at("2026-01-01T09:59:59.500")) == ([], [])


def test_event_counts_window_includes_its_start_and_leaves_out_its_end(filled):
    assert filled.event_counts("app1", start=at("2026-01-02T00:00:00"),
                               end=at("2026-01-02T09:00:00"))[0] == [
        {"eventType": "quiz_started", "count": 2}]
    assert filled.event_counts("app1", start=at("2026-01-01T10:00:00"),
                               end=at("2026-01-01T23:59:59"))[0] == [
        {"eventType": "lesson_viewed", "count": 3}]


def test_event_counts_are_per_app_and_ties_go_by_type(filled):
    app2 = filled.event_counts("app2")
    assert app2[0] == [{"eventType": "lesson_viewed", "count": 3},
                       {"eventType": "app_opened", "count": 1}]
    assert app2[1] == [{"day": "2026-01-01", "eventType": "lesson_viewed", "count": 3},
                       {"day": "2026-01-03", "eventType": "app_opened", "count": 1}]
    assert filled.event_counts("nobody") == ([], [])


def test_event_type_counts_over_every_app_most_frequent_first(filled):
    assert filled.event_type_counts() == [
        {"appId": "app1", "eventType": "lesson_viewed", "count": 5},
        {"appId": "app1", "eventType": "quiz_started", "count": 3},
        {"appId": "app2", "eventType": "lesson_viewed", "count": 3},
        {"appId": "app2", "eventType": "app_opened", "count": 1},
    ]


def test_queue_counts_leave_out_empty_states(filled):
    assert filled.queue_counts() == {"done": 12, "pending": 3, "failed": 1, "dead": 3,
                                     "conflict": 1}
    assert filled.queue_counts(app_id="app1") == {"done": 8, "pending": 2, "failed": 1,
                                                  "dead": 1, "conflict": 1}
    assert filled.queue_counts(app_id="app1", user_id="ann") == {
        "done": 4, "pending": 2, "failed": 1, "conflict": 1}
    assert filled.queue_counts(app_id="app1", user_id="cat") == {}
    assert filled.queue_counts(app_id="nobody") == {}


def test_state_counts_give_every_state(filled):
    assert filled.console_queue_counts() == {"pending": 3, "processing": 0, "done": 12,
                                             "failed": 1, "conflict": 1, "dead": 3}
    assert filled.state_counts("app2") == {"pending": 1, "processing": 0, "done": 4,
                                           "failed": 0, "conflict": 0, "dead": 2}
    assert filled.state_counts("nobody") == dict.fromkeys(QUEUE_STATES, 0)


def test_sync_minutes_sum_runs_per_minute_and_leave_out_client_batches(filled):
    start = int(T.timestamp())
    assert filled.sync_minutes(T) == [(start, 8, 1), (start + 120, 4, 2), (start + 180, 0, 0)]
    assert filled.sync_minutes(T - timedelta(hours=1))[0] == (start - 300, 7, 0)
    assert filled.sync_minutes(T + timedelta(hours=1)) == []


def test_sync_run_totals_count_runs_and_their_time(filled):
    totals = filled.sync_run_totals()
    assert totals["runs"] == 5
    assert totals["seconds"] == pytest.approx(43.5)


def test_conflict_counts_by_status(filled):
    assert filled.conflict_counts() == {"open": 2, "resolved": 1}


def test_counts_of_an_empty_store(store):
    assert store.event_counts("app1") == ([], [])
    assert store.event_type_counts() == []
    assert store.queue_counts() == {}
    assert store.console_queue_counts() == dict.fromkeys(QUEUE_STATES, 0)
    assert store.sync_minutes(T) == []
    assert store.sync_run_totals() == {"runs": 0, "seconds": 0}
    assert store.conflict_counts() == {}
