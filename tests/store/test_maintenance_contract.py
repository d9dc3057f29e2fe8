"""The store contract for `store check`: the adapters' own checks pass on a sound store, and
each counts what its tables or collections hold."""

import pytest

from app.ingest.queue import enqueue

from .helpers import queue_item

pytestmark = pytest.mark.both_stores


def test_a_sound_store_has_no_problems(store):
    assert store.integrity_problems() == []


def test_counts_name_every_table_and_what_it_holds(store):
    enqueue(store, "app1", [queue_item(f"i{n}") for n in range(3)])
    counts = store.collection_counts()
    assert counts["sync_queue"] == 3
    assert counts["telemetry"] == 0
    assert counts["schema_versions"] > 0
    assert all(isinstance(n, int) for n in counts.values())
    assert list(counts) == sorted(counts)


def test_the_oldest_item_waiting_is_found_by_its_status(store):
    from datetime import timedelta

    from app.store.common import OPEN_STATES, utcnow

    now = utcnow().replace(microsecond=0)
    assert store.oldest_item_time(OPEN_STATES) is None
    items = []
    for n, minutes in enumerate((30, 20, 10)):
        doc = queue_item(f"i{n}")
        doc["createdAt"] = doc["updatedAt"] = now - timedelta(minutes=minutes)
        items.append(doc)
    enqueue(store, "app1", items)
    assert store.oldest_item_time(OPEN_STATES) == now - timedelta(minutes=30)
    oldest = store.get_queue_item("app1", "i0")
    store.finish_items([{"id": oldest["id"], "status": "done", "attempts": 1,
                         "nextAttemptAt": None, "lastError": None}], now)
    assert store.oldest_item_time(OPEN_STATES) == now - timedelta(minutes=20)
    assert store.oldest_item_time(["done"]) == now - timedelta(minutes=30)
    assert store.oldest_item_time(["dead"]) is None
