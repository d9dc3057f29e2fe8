"""MongoDB's own upgrade step: step 2 drops the indexes later ones replaced (SQLite's step 1
already dropped its own, so its step 2 does nothing)."""

import os

import pytest

from app.store import schema
from app.store.mongo import upgrades

from .conftest import made_store

STORE_SPECIFIC = "MongoDB's step 2 drops MongoDB indexes; SQLite has none of them"
KINDS = ["mongomock"] + (["mongodb"] if os.environ.get("TEST_MONGODB_URI") else [])


@pytest.fixture(params=KINDS)
def mongo_store(request, tmp_path):
    with made_store(request.param, tmp_path) as the_store:
        yield the_store


def replaced_index_keys(name):
    """`source_1_startTime_-1` → [("source", 1), ("startTime", -1)]."""
    parts = name.split("_")
    return [(field, int(direction)) for field, direction in zip(parts[0::2], parts[1::2],
                                                                  strict=True)]


def test_step_2_drops_the_indexes_later_ones_replaced_and_keeps_the_rest(mongo_store):
    assert mongo_store.upgrade_step(1, schema.STEPS[1], "0.1.0", schema.utcnow())
    current = {c: set(mongo_store.db[c].index_information()) for c in upgrades.REPLACED_INDEXES}
    for collection, names in upgrades.REPLACED_INDEXES.items():
        for name in names:
            mongo_store.db[collection].create_index(replaced_index_keys(name), name=name)
    schema.open_store(mongo_store)
    for collection, names in upgrades.REPLACED_INDEXES.items():
        now = set(mongo_store.db[collection].index_information())
        # Later steps may add indexes of their own.
        assert current[collection] <= now and not now & set(names)
    # Taken again (a second process, or a step cut short), it finds nothing to drop.
    upgrades.drop_replaced_indexes(mongo_store)
    assert mongo_store.schema_version() == schema.LATEST
