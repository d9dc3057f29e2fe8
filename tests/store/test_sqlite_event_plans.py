"""SQLite's explorer reads walk indexes: no page, chunk or count reads the whole telemetry
table or sorts it, whatever the filter (each statement the port runs is explained)."""

import json
from datetime import UTC, datetime

import pytest

from app.store.port import EventJsonChunks

from .helpers import open_store
from .test_events_contract import EVENTS, apply

T = datetime(2026, 1, 1, 10, 30, tzinfo=UTC)
FILTERS = [
    {}, {"appId": "app1"}, {"appId": "app1", "userIds": ["ann", "a-ann"]},
    {"userIds": ["ann"]}, {"appId": "app1", "eventTypes": ["view", "open"]},
    {"eventTypes": ["view"], "since": T}, {"eventId": "bob-1"},
    {"appId": "app1", "since": T, "until": T.replace(hour=20)},
    {"appId": "app1", "userIds": ["ann"], "eventTypes": ["open"], "until": T},
]


@pytest.fixture
def store(tmp_path):
    the_store = open_store(tmp_path / "plans.sqlite3")
    apply(the_store, EVENTS)
    yield the_store
    the_store.close()


def plans(store, read):
    """The query plan of every statement `read` runs on the store's connection."""
    conn = store._connection()
    statements = []
    conn.set_trace_callback(statements.append)
    try:
        read()
    finally:
        conn.set_trace_callback(None)
    cur = conn.cursor()
    cur.row_factory = None
    return {sql: [row[3] for row in cur.execute(f"EXPLAIN QUERY PLAN {sql}")]
            for sql in statements}


def telemetry_steps(found):
    return [step for steps in found.values() for step in steps if " telemetry " in f"{step} "]


@pytest.mark.parametrize("filters", FILTERS)
def test_pages_and_counts_walk_indexes(store, filters):
    found = plans(store, lambda: (store.event_page(filters, limit=3),
                                  store.event_histogram(filters, "hour"),
                                  store.event_histogram(filters, "day"),
                                  store.event_detail("app1", "bob-1")))
    steps = telemetry_steps(found)
    assert steps and all(step.startswith("SEARCH telemetry USING") for step in steps), steps
    # Each walk seeks what the filter names (the person's ids, the types, the eventId).
    for field, column in (("userIds", "userId=?"), ("eventTypes", "eventType=?"),
                          ("eventId", "eventId=?")):
        if field in filters and not ("eventId" in filters and field != "eventId"):
            assert any(column in step for step in steps), (column, steps)


@pytest.mark.parametrize("filters", FILTERS)
def test_the_json_fast_path_gives_what_event_chunks_gives(store, filters):
    fast = store.capability(EventJsonChunks)
    slow = [e for chunk in store.event_chunks(filters, chunk=2) for e in chunk]
    quick = [e for chunk in fast(filters, chunk=2) for e in chunk]
    assert [head["key"] for head, _data, _meta in quick] == [e["key"] for e in slow]
    for (head, data, metadata), event in zip(quick, slow, strict=True):
        assert json.loads(data) == event["eventData"]
        assert json.loads(metadata) == event["metadata"]
        assert head["receivedAt"] == event["metadata"].get("receivedAt")
        assert {k: v for k, v in head.items() if k != "receivedAt"} == {
            k: v for k, v in event.items() if k not in ("eventData", "metadata")}


def test_counting_a_sync_batch_s_events_on_their_people_seeks_each_event(store):
    """The sync engine counts each batch's new events on their people: one seek per event id,
    never a walk of the app's events, which made every batch slower as the store grew."""
    ids = ["same-00", "same-01", "bob-1", "bob-2", "other-0", "missing"]
    found = plans(store, lambda: store.event_activity("app1", ids))
    steps = [step for steps in found.values() for step in steps if f" {step} ".count(" t ")]
    assert steps == ["SEARCH t USING INDEX sqlite_autoindex_telemetry_1 (appId=? AND eventId=?)"]
    groups = store.event_activity("app1", ids)
    assert sorted((g["userId"], g["count"]) for g in groups) == [("ann", 2), ("bob", 2)]
