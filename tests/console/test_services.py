"""The console's queue rules, written once above the port: pages merged over several states,
the one search box, counts, and which items an operator may act on. On both stores."""

import pytest

from app.console import services
from app.ingest.queue import enqueue
from tests.store.helpers import queue_item

pytestmark = pytest.mark.both_stores


def put(store, *specs):
    """Queue items given as (itemId, status, userId, appId, batchId), oldest first."""
    for item_id, status, user_id, app_id, batch_id in specs:
        item = queue_item(item_id, app_id=app_id, user_id=user_id, batch_id=batch_id)
        item["status"] = status
        enqueue(store, app_id, [item])


def item_ids(rows):
    return [row["itemId"] for row in rows]


@pytest.fixture
def filled(store):
    put(store,
        ("e1", "pending", "ann", "app1", "b1"), ("e2", "dead", "ann", "app1", "b1"),
        ("e3", "failed", "bob", "app1", "b2"), ("e4", "done", "bob", "app2", "e3"),
        ("e5", "dead", "cat", "app2", None), ("e6", "conflict", "ann", "app1", None),
        ("ann", "failed", "dan", "app2", None))
    return store


def test_a_page_over_several_states_is_merged_newest_first_and_cut(store):
    states = ("failed", "dead")
    items = []
    for n in range(services.PAGE_SIZE + 10):
        # Runs of each state, so that neither state's own order is the page's order.
        item = queue_item(f"i{n:03d}", user_id="ann")
        item["status"] = states[(n // 7) % 2]
        items.append(item)
    enqueue(store, "app1", items)
    filters = services.queue_filters({}, services.ERROR_STATES)
    expected = [f"i{n:03d}" for n in reversed(range(services.PAGE_SIZE + 10))]
    rows, cursor = services.queue_list(store, filters)
    assert item_ids(rows) == expected[:services.PAGE_SIZE]
    assert cursor == rows[-1]["id"]
    rest, cursor = services.queue_list(store, filters, before=cursor)
    assert item_ids(rest) == expected[services.PAGE_SIZE:] and cursor is None
    assert services.count_queue(store, filters) == services.PAGE_SIZE + 10
    assert item_ids(services.queue_rows(store, filters, limit=9)) == expected[:9]
    # The same through a user's filter, which looks in every app by name.
    rows, _ = services.queue_list(store, dict(filters, userId="ann"))
    assert item_ids(rows) == expected[:services.PAGE_SIZE]


@pytest.mark.parametrize("filters, expected", [
    ({"statuses": ["dead", "failed"]}, ["ann", "e5", "e3", "e2"]),
    ({"statuses": ["dead", "failed"], "userId": "ann"}, ["e2"]),
    ({"statuses": None, "userId": "bob"}, ["e4", "e3"]),
    ({"statuses": ["dead"], "appId": "app2"}, ["e5"]),
    ({"statuses": None}, ["ann", "e6", "e5", "e4", "e3", "e2", "e1"]),
])
def test_filters_pages_and_counts_agree(filled, filters, expected):
    rows, cursor = services.queue_list(filled, filters)
    assert item_ids(rows) == expected and cursor is None
    assert services.count_queue(filled, filters) == len(expected)


@pytest.mark.parametrize("term, expected", [
    ("e3", ["e4", "e3"]),               # e3's itemId, and e4's batchId
    ("b1", ["e2", "e1"]),               # a batchId
    ("ann", ["ann", "e6", "e2", "e1"]),  # an itemId in app2 and a userId in app1
    ("  dan ", ["ann"]),                # a userId, the box's spaces trimmed
    ("nobody", []),
])
def test_one_search_finds_by_item_batch_or_user_across_apps(filled, term, expected):
    rows, cursor = services.queue_list(filled, {"statuses": ["dead"]}, query=term)
    assert item_ids(rows) == expected and cursor is None


def test_a_search_of_an_empty_queue_finds_nothing(store):
    assert services.queue_list(store, {}, query="e1") == ([], None)


@pytest.mark.parametrize("action", ["retry", "discard"])
def test_bulk_actions_touch_only_failed_and_dead_items(filled, action):
    before = filled.console_queue_counts()
    assert services.bulk(filled, action, {"statuses": ["conflict"]}, "ada") == 0
    assert services.bulk(filled, action, {"statuses": ["pending", "done"]}, "ada") == 0
    assert filled.console_queue_counts() == before
    assert services.bulk(filled, action, {"statuses": None, "userId": "ann"}, "ada") == 1
    assert filled.get_queue_item("app1", "e6")["status"] == "conflict"
    assert filled.get_queue_item("app1", "e1")["status"] == "pending"
    e2 = filled.get_queue_item("app1", "e2")
    assert (e2 is None) if action == "discard" else (e2["status"] == "pending")
    assert services.bulk(filled, action, {"statuses": ["dead"], "appId": "app2"}, "ada") == 1
    assert services.bulk(filled, action, {"statuses": ["failed", "dead"]}, "ada") == 2
    audit = filled.list_audit()
    assert audit[0]["action"] == f"queue.bulk_{action}" and audit[0]["details"]["count"] == 2


def test_one_item_is_retried_or_discarded_only_while_it_waits_for_a_human(filled):
    rows, _ = services.queue_list(filled, {"statuses": None})
    by_id = {row["itemId"]: row for row in rows}
    for item_id in ("e1", "e4", "e6"):
        assert not services.retry_item(filled, by_id[item_id], "ada")
        assert not services.discard_item(filled, by_id[item_id], "ada")
    assert services.retry_item(filled, by_id["e2"], "ada")
    assert filled.get_queue_item("app1", "e2")["status"] == "pending"
    assert not services.discard_item(filled, by_id["e2"], "ada")  # pending by now
    assert services.discard_item(filled, by_id["e5"], "ada")
    assert filled.get_queue_item("app2", "e5") is None
    assert [e["action"] for e in filled.list_audit()] == ["queue.discard", "queue.retry"]
