"""The store contract for the console's reads and actions, on every adapter."""

from datetime import timedelta

import pytest

from app.config import load_config
from app.ingest.queue import enqueue
from app.ingest.validate import encode, payload_hash
from app.store.common import utcnow
from app.sync.engine import run_sync

from .helpers import batch_log, queue_item

SETTINGS = load_config({"APP_ENV": "testing"})


def put(store, *specs):
    """Queue items given as (itemId, status, userId, appId, batchId)."""
    for item_id, status, user_id, app_id, batch_id in specs:
        item = queue_item(item_id, app_id=app_id, user_id=user_id, batch_id=batch_id)
        item["status"] = status
        enqueue(store, app_id, [item])


@pytest.fixture
def filled(store):
    put(store,
        ("e1", "pending", "ann", "app1", "b1"), ("e2", "dead", "ann", "app1", "b1"),
        ("e3", "failed", "bob", "app1", "b2"), ("e4", "done", "bob", "app2", None),
        ("e5", "dead", "cat", "app2", None), ("e6", "conflict", "ann", "app1", None))
    return store


def ids(rows):
    return [row["itemId"] for row in rows]


def test_queue_pages_newest_first_without_payloads(filled):
    first = filled.queue_page({}, limit=4)
    assert ids(first) == ["e6", "e5", "e4", "e3"]
    assert "itemData" not in first[0]
    rest = filled.queue_page({}, before_id=first[-1]["id"], limit=4)
    assert ids(rest) == ["e2", "e1"]
    assert filled.queue_page({}, before_id="not-a-cursor") == []


@pytest.mark.parametrize("match, status, app_ids, expected", [
    ({}, "dead", None, ["e5", "e2"]),
    ({"userId": "ann"}, None, None, ["e6", "e2", "e1"]),
    ({"userId": "ann"}, None, ["app1", "app2"], ["e6", "e2", "e1"]),
    ({"userId": "ann"}, "dead", ["app2"], []),
    ({"appId": "app2"}, None, None, ["e5", "e4"]),
    ({"appId": "app2"}, None, ["app1"], []),
    ({"itemType": "event"}, "pending", None, ["e1"]),
    ({"itemType": "user_settings"}, None, None, []),
    ({"itemId": "e3"}, None, ["app1", "app2"], ["e3"]),
    ({"batchId": "b1"}, None, ["app1", "app2"], ["e2", "e1"]),
])
def test_queue_look_ups_and_counts_agree(filled, match, status, app_ids, expected):
    assert ids(filled.queue_page(match, status, app_ids)) == expected
    if app_ids is None:
        assert filled.count_queue(match, [status] if status else None) == len(expected)


def test_a_count_over_several_states_adds_them(filled):
    assert filled.count_queue({}, ["dead", "failed"]) == 3
    assert filled.count_queue({"userId": "ann"}, ["dead", "pending"]) == 2
    assert filled.count_queue({}) == 6


def test_counts_by_state_include_every_state(filled):
    counts = filled.console_queue_counts()
    assert counts == {"pending": 1, "processing": 0, "done": 1, "failed": 1, "conflict": 1,
                      "dead": 2}
    assert filled.queue_counts(app_id="app2") == {"done": 1, "dead": 1}
    assert filled.queue_counts(app_id="app1", user_id="ann") == {
        "pending": 1, "dead": 1, "conflict": 1}
    assert filled.queue_app_ids() == ["app1", "app2"]


def test_item_detail_by_key_carries_the_payload(filled):
    key = filled.queue_page({"userId": "cat"})[0]["id"]
    item = filled.queue_item(key)
    assert item["itemId"] == "e5" and item["itemData"]["eventData"] == {"n": 1}
    assert filled.queue_item("nope") is None


def test_retry_and_discard_touch_only_the_states_named(filled):
    now = utcnow()
    pending_key = filled.queue_page({}, "pending")[0]["id"]
    assert filled.retry_queue_items(now, ["failed", "dead"], ids=[pending_key]) == 0
    dead_key = filled.queue_page({"userId": "cat"})[0]["id"]
    assert filled.retry_queue_items(now, ["failed", "dead"], ids=[dead_key, "nope"]) == 1
    retried = filled.get_queue_item("app2", "e5")
    assert retried["status"] == "pending" and retried["attempts"] == 0
    assert filled.discard_queue_items(["failed", "dead"], match={"userId": "ann"}) == 1  # e2
    assert filled.get_queue_item("app1", "e2") is None
    assert filled.get_queue_item("app1", "e6")["status"] == "conflict"
    assert filled.retry_queue_items(now, ["dead"], match={}) == 0
    assert filled.retry_queue_items(now, ["failed"], match={}) == 1
    assert filled.retry_queue_items(now, ["failed", "dead"], ids=[]) == 0
    assert filled.discard_queue_items(["conflict"], ids=[]) == 0
    assert filled.get_queue_item("app1", "e6")["status"] == "conflict"


def test_a_look_up_by_a_field_items_lack_is_refused(filled):
    with pytest.raises(ValueError):
        filled.queue_page({"status": "dead"})


def test_batch_pages_by_time_with_a_keyset_cursor(store):
    now = utcnow()
    for n in range(5):
        log = batch_log(f"b{n}", [])
        log["startTime"] = now - timedelta(minutes=n)
        log["status"] = "partial" if n % 2 else "success"
        enqueue(store, "app1", [queue_item(f"x{n}", batch_id=f"b{n}")], batch_id=f"b{n}",
                make_batch_log=lambda o, log=log: log)
    since = now - timedelta(hours=1)
    first = store.batch_page(since, limit=3)
    assert [b["batchId"] for b in first] == ["b0", "b1", "b2"]
    assert "results" not in first[0]
    last = first[-1]
    rest = store.batch_page(since, before=(last["startTime"], last["id"]), limit=3)
    assert [b["batchId"] for b in rest] == ["b3", "b4"]
    assert [b["batchId"] for b in store.batch_page(since, statuses=["partial"])] == ["b1", "b3"]
    assert store.batch_page(since, source="manual") == []
    assert store.batch_page(now + timedelta(minutes=1)) == []
    assert store.batch_log(first[0]["id"])["results"] == []


def test_sync_runs_feed_the_chart_the_totals_and_the_event_counts(store):
    put(store, ("e1", "pending", "ann", "app1", None), ("e2", "pending", "ann", "app1", None))
    run_sync(store, SETTINGS, source="manual")
    minutes = store.sync_minutes(utcnow() - timedelta(hours=1))
    assert sum(processed for _minute, processed, _failed in minutes) == 2
    totals = store.sync_run_totals()
    assert totals["runs"] >= 1 and totals["seconds"] >= 0
    assert [(r["appId"], r["eventType"], r["count"]) for r in store.event_type_counts()] == [
        ("app1", "x", 2)]


def test_conflicts_are_counted_and_paged(store):
    put(store, ("e1", "pending", "ann", "app1", None))
    run_sync(store, SETTINGS, source="manual")
    other = queue_item("e1", app_id="app1", user_id="ann")
    data = {"eventId": "e1", "eventType": "x", "eventData": {"n": 2}, "metadata": {}}
    other["itemData"] = encode(data)
    other["payloadHash"] = payload_hash("ann", "event", other["itemData"])
    enqueue(store, "app1", [other])
    run_sync(store, SETTINGS, source="manual")
    assert store.conflict_counts() == {"open": 1}
    page = store.list_conflicts(status="open", values=False)
    assert len(page) == 1 and page[0]["kind"] == "event"
    assert not {"base", "server", "client"} & set(page[0])
    assert "server" in store.list_conflicts(status="open")[0]
    assert store.list_conflicts(status="resolved", values=False) == []
    assert store.list_conflicts(before_id=page[0]["id"], values=False) == []
