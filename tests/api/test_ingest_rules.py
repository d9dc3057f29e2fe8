"""The ingest rules over HTTP, on both stores: the per-user backlog counts every open state, the
batch size limit is inclusive, and a resent batch answers as before."""

import pytest

from app.store.common import utcnow

from .helpers import batch, event_item

pytestmark = pytest.mark.both_stores

BATCH_URL = "/api/telemetry/batch"
TRACK_URL = "/api/telemetry/track"
MAX_OPEN = 4
MAX_ITEMS = 3


@pytest.fixture
def app_config():
    return {"SYNC_MAX_QUEUE": MAX_OPEN, "MAX_BATCH_ITEMS": MAX_ITEMS}


def fill_backlog(client, auth, store, states):
    """Send one item per entry of `states` for user u1, putting each in that state."""
    ids = [f"open-{n}" for n in range(len(states))]
    for start in range(0, len(ids), MAX_ITEMS):
        chunk = ids[start:start + MAX_ITEMS]
        answer = client.post(BATCH_URL, json=batch([event_item(i) for i in chunk]),
                             headers=auth)
        assert answer.status_code == 202
        for item_id in chunk:
            store.set_item_status("testapp", item_id, states[ids.index(item_id)], utcnow())
    return store.queue_counts(app_id="testapp")


def backlog_full(response, open_items):
    assert response.status_code == 429
    assert response.json == {
        "error": "backlog_full", "fields": {},
        "message": f"User 'u1' has {open_items} items waiting to sync (limit {MAX_OPEN}); "
                   "nothing was stored. Retry later."}
    assert response.headers["Retry-After"] == "30"


@pytest.mark.parametrize("states", [
    ("failed", "failed", "processing", "processing"),
    ("failed",) * MAX_OPEN,
    ("processing",) * MAX_OPEN,
    ("pending", "processing", "failed", "failed"),
], ids=["failed+processing", "failed", "processing", "mixed"])
def test_a_backlog_of_open_items_in_any_state_refuses_the_next_batch(client, auth, store,
                                                                    states):
    before = fill_backlog(client, auth, store, states)
    response = client.post(BATCH_URL, json=batch([event_item("next")]), headers=auth)
    backlog_full(response, MAX_OPEN)
    assert store.queue_counts(app_id="testapp") == before
    assert store.get_queue_item("testapp", "next") is None
    one = {"userId": "u1", "eventId": "one", "eventType": "note", "eventData": {}}
    backlog_full(client.post(TRACK_URL, json=one, headers=auth), MAX_OPEN)
    # The backlog is per user: another user's batch still goes in.
    other = client.post(BATCH_URL, json=batch([event_item("theirs")], user_id="u2"),
                        headers=auth)
    assert other.status_code == 202 and other.json["accepted"] == 1


def test_items_that_no_longer_wait_do_not_count(client, auth, store):
    fill_backlog(client, auth, store, ("done", "dead", "conflict", "failed", "processing",
                                       "pending"))
    # Three open items and three more make six: past the limit of four.
    response = client.post(BATCH_URL, json=batch([event_item(f"n{k}") for k in range(3)]),
                           headers=auth)
    backlog_full(response, 3)
    # Three open items and one more reach the limit exactly, which is allowed.
    response = client.post(BATCH_URL, json=batch([event_item("n0")]), headers=auth)
    assert response.status_code == 202 and response.json["accepted"] == 1
    assert store.queue_counts(app_id="testapp", user_id="u1")["pending"] == 2


def test_exactly_max_batch_items_are_accepted_and_one_more_is_refused(client, auth, store):
    full = client.post(BATCH_URL, json=batch([event_item(f"e{k}") for k in range(MAX_ITEMS)]),
                       headers=auth)
    assert full.status_code == 202
    assert (full.json["accepted"], full.json["rejected"]) == (MAX_ITEMS, 0)
    too_many = client.post(
        BATCH_URL, json=batch([event_item(f"x{k}") for k in range(MAX_ITEMS + 1)]),
        headers=auth)
    assert too_many.status_code == 413
    assert too_many.json == {
        "error": "too_many_items",
        "message": f"The batch has {MAX_ITEMS + 1} items; the limit is {MAX_ITEMS}.",
        "fields": {"items": [f"At most {MAX_ITEMS} items per batch."]}}
    assert store.queue_counts(app_id="testapp") == {"pending": MAX_ITEMS}
    assert store.get_queue_item("testapp", "x0") is None


def test_a_resent_batch_answers_accepted_again_and_stores_nothing_twice(client, auth, store):
    body = batch([event_item("e1"), event_item("e2"), event_item("bad", score=-1)],
                 batch_id="b1")
    first = client.post(BATCH_URL, json=body, headers=auth)
    again = client.post(BATCH_URL, json=body, headers=auth)
    assert first.status_code == again.status_code == 202
    assert [r["status"] for r in again.json["results"]] == ["accepted", "accepted", "rejected"]
    assert again.json == first.json
    assert store.queue_counts(app_id="testapp") == {"pending": 2}
    # The same items in another batch are duplicates.
    other = client.post(BATCH_URL, json=batch([event_item("e1"), event_item("e2")]),
                        headers=auth)
    assert [r["status"] for r in other.json["results"]] == ["duplicate", "duplicate"]
