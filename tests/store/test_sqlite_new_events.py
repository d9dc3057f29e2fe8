"""SQLite's ApplyNewEvents capability: a batch of plain new events claimed, stored and marked
done in one go, and every other batch left exactly as it was for the engine to work item by
item."""

from datetime import timedelta

import pytest

from app.ingest.queue import enqueue
from app.store import DataRejected
from app.store.common import utcnow
from app.store.port.sync import ApplyNewEvents
from app.sync.documents import telemetry_document

from .helpers import event_item, open_store, queue_item


@pytest.fixture
def store(tmp_path):
    the_store = open_store(tmp_path / "events.sqlite3")
    yield the_store
    the_store.close()


def apply(store, limit=10):
    now = utcnow()
    with store.unit_of_work(durable=False):
        return store.capability(ApplyNewEvents)(now, limit)


def untouched(store, item_ids):
    """Every item still pending and never attempted, and nothing in telemetry."""
    items = [store.get_queue_item("app1", item_id) for item_id in item_ids]
    return (all(i["status"] == "pending" and i["attempts"] == 0 for i in items)
            and store._scalar("SELECT COUNT(*) FROM telemetry") == 0
            and store.event_type_counts() == [])


def test_plain_new_events_are_stored_and_done_in_claim_order(store):
    enqueue(store, "app1", [event_item("a"), event_item("b", priority=5), event_item("c")])
    assert apply(store, limit=2) == [("app1", "b"), ("app1", "a")]
    assert store.queue_counts() == {"done": 2, "pending": 1}
    assert store.get_queue_item("app1", "b")["attempts"] == 1
    stored = store.get_event("app1", "a")
    expected = telemetry_document(store.get_queue_item("app1", "a"), stored["createdAt"])
    assert (stored["eventType"], stored["eventData"], stored["metadata"]) == (
        expected["eventType"], expected["eventData"], expected["metadata"])
    assert [r["count"] for r in store.event_type_counts()] == [2]
    assert apply(store) == [("app1", "c")]
    assert apply(store) == []


def test_a_batch_holding_a_record_or_a_sequenced_event_is_left_to_the_engine(store):
    record = queue_item("r-edit", item_type="note", data={
        "recordId": "r1", "baseVersion": 0, "data": {"t": 1}, "clientTimestamp": None})
    sequenced = dict(event_item("s", priority=9), clientId="c1", seq=1)
    enqueue(store, "app1", [event_item("a"), record])
    assert apply(store) is None
    assert untouched(store, ["a", "r-edit"])
    enqueue(store, "app1", [sequenced])
    assert apply(store, limit=1) is None  # the claim: "s" alone, first by priority
    assert untouched(store, ["a", "r-edit", "s"])
    assert apply(store, limit=2) is None  # "s" and "a"
    assert untouched(store, ["a", "r-edit", "s"])


def test_a_batch_holding_a_stored_event_stores_none_of_it(store):
    enqueue(store, "app1", [event_item("a")])
    assert apply(store) == [("app1", "a")]
    # "a" comes back under a new queue entry (its old one gone), among new events.
    with store._transaction() as conn:
        conn.execute("DELETE FROM sync_queue")
    enqueue(store, "app1", [event_item("new1"), event_item("a"), event_item("new2")])
    assert apply(store) is None
    assert store._scalar("SELECT COUNT(*) FROM telemetry") == 1
    assert [r["count"] for r in store.event_type_counts()] == [1]
    assert store.queue_counts() == {"pending": 3}


def test_a_reused_event_id_is_left_to_the_engine(store):
    variant = dict(event_item("a~2"), conflictOf="a")
    enqueue(store, "app1", [variant])
    assert apply(store) is None
    assert untouched(store, ["a~2"])


def test_items_not_yet_due_are_not_claimed(store):
    item = event_item("later")
    item["nextAttemptAt"] = utcnow() + timedelta(minutes=5)
    enqueue(store, "app1", [item])
    assert apply(store) == []


def _malformed(item):
    item["itemData"] = '{"eventId": "bad", "eventType": '


def _before_year_one(item):
    item["meta"]["timestamp"] = "0001-01-01T00:00:00+14:00"


@pytest.mark.parametrize("spoil", [_malformed, _before_year_one])
def test_a_batch_holding_an_event_sql_cannot_store_is_refused_changing_nothing(store, spoil):
    bad = event_item("bad")
    spoil(bad)
    enqueue(store, "app1", [event_item("a"), bad, event_item("b")])
    # Refused as the data's fault, not the store's: the engine goes item by item and finds it.
    with pytest.raises(DataRejected):
        apply(store)
    assert untouched(store, ["a", "b"])
    assert store.queue_counts() == {"pending": 3}
