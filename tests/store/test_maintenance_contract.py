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
