"""The store contract of the sync engine's operations, on every adapter (SQLite, mongomock, and
MongoDB when TEST_MONGODB_URI is set)."""

from datetime import timedelta

import pytest

from app.ingest.queue import enqueue
from app.store import DataRejected, StoreUnavailable
from app.store.common import utcnow
from app.store.port.sync import ApplyNewEvents
from app.sync.documents import telemetry_document

from .helpers import event_item

LEASE = timedelta(seconds=60)


def claim(store, now=None, limit=10):
    now = now or utcnow()
    with store.unit_of_work(durable=False):
        items = store.claim_items(now, now + LEASE, limit)
        store.finish_items([{"id": i["id"], "status": "done", "attempts": i["attempts"],
                             "leaseOwner": i.get("leaseOwner")} for i in items], now)
    return items


def events(items, now):
    """The telemetry documents of claimed event items, as the engine builds them."""
    return [telemetry_document(item, now) for item in items]


def test_claims_take_priority_first_then_arrival_and_finish_them(store):
    enqueue(store, "app1", [event_item("a"), event_item("b", priority=5), event_item("c")])
    first = claim(store, limit=2)
    assert [i["itemId"] for i in first] == ["b", "a"]
    assert first[0]["eventId"] == "b" and first[0]["attempts"] == 1
    assert [i["itemId"] for i in claim(store)] == ["c"]
    assert claim(store) == []
    assert store.queue_counts() == {"done": 3}


def test_a_claim_whose_unit_dies_is_claimable_again_after_the_lease(store):
    enqueue(store, "app1", [event_item("a")])
    now = utcnow()
    with pytest.raises(RuntimeError), store.unit_of_work(durable=False):
        assert len(store.claim_items(now, now + LEASE, 10)) == 1
        raise RuntimeError("worker died")
    [again] = claim(store, now + LEASE + timedelta(seconds=1))
    assert again["itemId"] == "a"


def test_items_not_yet_due_are_not_claimed(store):
    item = event_item("a")
    item["nextAttemptAt"] = utcnow() + timedelta(minutes=5)
    enqueue(store, "app1", [item])
    assert claim(store) == []
    assert len(claim(store, utcnow() + timedelta(minutes=6))) == 1


def test_events_are_stored_once_as_the_engine_builds_them(store):
    enqueue(store, "app1", [event_item("a"), event_item("b")])
    now = utcnow()
    with store.unit_of_work(durable=False):
        items = store.claim_items(now, now + LEASE, 10)
        store.insert_events(events(items, now))
        store.insert_events(events(items[:1], now))
    expected = telemetry_document(store.get_queue_item("app1", "a"), now)
    stored = store.get_event("app1", "a")
    for field in ("appId", "eventId", "userId", "eventType", "eventData", "status", "metadata",
                  "payloadHash"):
        assert stored[field] == expected[field], field
    assert abs(stored["timestamp"] - expected["timestamp"]) < timedelta(milliseconds=1)
    assert abs(stored["createdAt"] - now) < timedelta(milliseconds=1)
    assert store.event_hashes("app1", ["a", "b", "zz"]) == {
        "a": expected["payloadHash"], "b": store.get_queue_item("app1", "b")["payloadHash"]}
    assert store.event_hashes("app2", ["a"]) == {}
    # The events page counts each stored event once, not the insert that kept the first one.
    assert [(r["appId"], r["eventType"], r["count"]) for r in store.event_type_counts()] == [
        ("app1", "lesson_viewed", 2)]


def test_an_event_whose_time_could_not_be_read_back_is_refused(store):
    early = event_item("early")
    early["meta"]["timestamp"] = "0001-01-01T00:00:00+14:00"  # before year 1 in UTC
    enqueue(store, "app1", [event_item("a"), early])
    now = utcnow()
    with store.unit_of_work(durable=False):
        items = store.claim_items(now, now + LEASE, 10)
        with pytest.raises(DataRejected), store.savepoint():
            store.insert_events(events(items, now))
        store.insert_events(events(items[:1], now))
    assert store.get_event("app1", "early") is None
    assert store.get_event("app1", "a")["eventId"] == "a"


def test_a_batch_of_new_events_is_applied_in_one_go_only_where_a_unit_can_take_it_back(store):
    enqueue(store, "app1", [event_item("a")])
    apply_new_events = store.capability(ApplyNewEvents)
    if store.kind != "sqlite":  # MongoDB: always item by item
        assert apply_new_events is None
        assert not hasattr(store, "apply_new_events")
        return
    now = utcnow()  # more in test_sqlite_new_events.py
    with store.unit_of_work(durable=False):
        applied = apply_new_events(now, 10)
    assert applied == [("app1", "a")]
    assert store.queue_counts() == {"done": 1}
    assert store.event_hashes("app1", ["a"]) == {"a": store.get_queue_item("app1", "a")[
        "payloadHash"]}


def test_claimed_events_without_a_seq_carry_what_applying_them_reads(store):
    enqueue(store, "app1", [event_item("a")])
    now = utcnow()
    with store.unit_of_work(durable=False):
        [item] = store.claim_items(now, now + LEASE, 10)
    assert (item["appId"], item["itemId"], item["itemType"], item["eventId"], item["attempts"],
            item.get("seq")) == ("app1", "a", "event", "a", 1, None)
    assert item["payloadHash"] == store.get_queue_item("app1", "a")["payloadHash"]


def test_event_counts_by_type_and_day(store):
    enqueue(store, "app1", [event_item("a"), event_item("b")])
    now = utcnow()
    with store.unit_of_work(durable=False):
        store.insert_events(events(store.claim_items(now, now + LEASE, 10), now))
    by_type, by_day = store.event_counts("app1")
    assert by_type == [{"eventType": "lesson_viewed", "count": 2}]
    assert by_day == [{"day": "2026-01-01", "eventType": "lesson_viewed", "count": 2}]
    start = utcnow().replace(year=2026, month=1, day=2)
    assert store.event_counts("app1", start=start) == ([], [])


def record(version, data, app_id="app1", record_id="r1", item_id=None):
    return {"appId": app_id, "recordType": "note", "recordId": record_id, "userId": "u1",
            "version": version, "data": data, "updatedAt": utcnow(), "updatedBy": "u1",
            "itemId": item_id}


def test_record_versions_are_all_kept_and_changes_are_numbered_per_app(store):
    with store.unit_of_work(durable=False):
        store.write_record(record(1, {"t": 1}, item_id="i1"), 0)
        store.write_record(record(1, {"x": 1}, record_id="r2"), 0)
        store.write_record(record(2, {"t": 2}, item_id="i2"), 1)
        store.write_record(record(1, {"o": 1}, app_id="app2"), 0)
    current = store.get_record("app1", "note", "r1")
    assert (current["version"], current["data"], current["changeSeq"]) == (2, {"t": 2}, 3)
    assert store.get_record_version("app1", "note", "r1", 1)["data"] == {"t": 1}
    assert store.version_written_by("app1", "i2")["version"] == 2
    assert store.version_written_by("app1", "nope") is None
    changes = store.records_changed("app1", since=1)
    assert [(r["recordId"], r["changeSeq"]) for r in changes] == [("r2", 2), ("r1", 3)]
    assert store.records_changed("app2")[0]["changeSeq"] == 1
    assert store.records_changed("app1", record_type="task") == []
    with pytest.raises(StoreUnavailable), store.unit_of_work(durable=False):
        store.write_record(record(2, {"stale": True}), 1)
    assert store.get_record("app1", "note", "r1")["data"] == {"t": 2}


def test_conflicts_are_kept_listed_and_closed_once(store):
    now = utcnow()
    doc = {"appId": "app1", "itemId": "i1", "kind": "record", "recordType": "note",
           "recordId": "r1", "base": {"t": 0}, "server": {"t": 1}, "client": {"t": 2},
           "fields": ["t"], "strategy": "manual", "status": "open", "createdAt": now}
    with store.unit_of_work(durable=False):
        first = store.add_conflict(doc)
        second = store.add_conflict(dict(doc, itemId="i2"))
        store.add_conflict(dict(doc, appId="app2"))
    got = store.get_conflict("app1", first["id"])
    assert (got["server"], got["client"], got["fields"]) == ({"t": 1}, {"t": 2}, ["t"])
    assert store.get_conflict("app2", first["id"]) is None
    assert store.get_conflict(None, first["id"])["itemId"] == "i1"
    assert store.get_conflict("app1", "not-an-id") is None
    listed = store.list_conflicts("app1", status="open")
    assert [c["itemId"] for c in listed] == ["i2", "i1"]
    assert [c["itemId"] for c in store.list_conflicts("app1", before_id=second["id"])] == ["i1"]
    assert len(store.list_conflicts(None)) == 3
    with store.unit_of_work(durable=False):
        assert store.close_conflict(first["id"], "client", "alice", now)
        assert not store.close_conflict(first["id"], "server", "bob", now)
    closed = store.get_conflict("app1", first["id"])
    assert (closed["status"], closed["resolution"], closed["resolvedBy"]) == (
        "resolved", "client", "alice")
    assert [c["itemId"] for c in store.list_conflicts("app1", status="open")] == ["i2"]


def test_client_seqs_only_move_forward(store):
    with store.unit_of_work(durable=False):
        store.save_client_seqs("app1", {"c1": 5, "c2": 1})
        store.save_client_seqs("app1", {"c1": 3})
    assert store.client_seqs("app1", ["c1", "c2", "c3"]) == {"c1": 5, "c2": 1}
    assert store.client_seqs("app2", ["c1"]) == {}


def outcome(item, status, error=None, next_at=None):
    """The queue update a claim's owner writes for one of its items."""
    return {"id": item["id"], "status": status, "attempts": item["attempts"],
            "nextAttemptAt": next_at, "lastError": error, "leaseOwner": item.get("leaseOwner")}


def test_a_late_finish_by_a_claim_that_lost_its_lease_changes_nothing(store):
    enqueue(store, "app1", [event_item("a"), event_item("b")])
    now = utcnow()
    with store.unit_of_work(durable=False):
        stalled = store.claim_items(now, now + LEASE, 10)  # worker A, which then stalls
    later = now + LEASE + timedelta(seconds=1)
    retry_at = later + timedelta(minutes=5)
    with store.unit_of_work(durable=False):
        # Worker B takes the items over once A's lease has run out, and settles them.
        taken = store.claim_items(later, later + LEASE, 10)
        assert [i["itemId"] for i in taken] == ["a", "b"]
        by_id = {i["itemId"]: i for i in taken}
        store.finish_items([outcome(by_id["a"], "done"),
                            outcome(by_id["b"], "failed", "B: try again", retry_at)], later)
    settled = {i: store.get_queue_item("app1", i) for i in ("a", "b")}
    # A's outcomes arrive late: neither its done nor its other outcomes change anything.
    with store.unit_of_work(durable=False):
        by_id = {i["itemId"]: i for i in stalled}
        store.finish_items([outcome(by_id["a"], "dead", "A: gave up"),
                            outcome(by_id["b"], "done")], later + timedelta(seconds=1))
    assert store.queue_counts() == {"done": 1, "failed": 1}
    for item_id in ("a", "b"):
        now_stored = store.get_queue_item("app1", item_id)
        assert {k: now_stored[k] for k in ("status", "attempts", "lastError", "nextAttemptAt")} \
            == {k: settled[item_id][k] for k in ("status", "attempts", "lastError",
                                                 "nextAttemptAt")}
    assert settled["b"]["lastError"] == "B: try again"
    assert abs(settled["b"]["nextAttemptAt"] - retry_at) < timedelta(milliseconds=1)


def test_a_claims_own_finish_settles_its_items_after_a_lost_unit(store):
    # The batch's unit was lost (an outage): its items' retries are written in a unit of their
    # own, and still apply, since no other claim has settled them since.
    enqueue(store, "app1", [event_item("a")])
    now = utcnow()
    with store.unit_of_work(durable=False):
        [item] = store.claim_items(now, now + LEASE, 10)
    with store.unit_of_work(durable=False):
        store.finish_items([outcome(item, "failed", "store unavailable", now)], now)
    stored = store.get_queue_item("app1", "a")
    assert (stored["status"], stored["attempts"], stored["lastError"]) == (
        "failed", 1, "store unavailable")
