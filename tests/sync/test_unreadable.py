"""Items an older release stored with times that cannot be read back (issue 12, item 1) no longer
stop sync: each is dead with its reason, and every other app's items apply."""

from datetime import timedelta

import pytest
from bson.datetime_ms import DatetimeMS

from app.ingest.queue import enqueue
from app.store.common import utcnow

from ..store.helpers import event_item, queue_item
from .faults import decode_like_the_driver
from .helpers import event, item, send, sync

pytestmark = pytest.mark.both_stores

# A client time the old ingest took and stored as sent: before year 1 once in UTC.
BEFORE_YEAR_ONE = "0001-01-01T00:00:00+14:00"
# The same instant stored as a time (epoch seconds on SQLite): 0000-12-31T10:00:00Z.
YEAR_ZERO_EPOCH = -62135596800.0 - 14 * 3600


def year_zero(store):
    """A stored time that reads back as year 0, as the store keeps times."""
    return YEAR_ZERO_EPOCH if store.kind == "sqlite" else DatetimeMS(int(YEAR_ZERO_EPOCH * 1000))


def old_event(data):
    doc = queue_item("old1", app_id="testapp", data={
        "eventId": "old1", "eventType": "lesson_viewed", "eventData": data,
        "metadata": {"clientTimestamp": BEFORE_YEAR_ONE}})
    doc["meta"] = {"receivedAt": utcnow().isoformat(), "timestamp": BEFORE_YEAR_ONE,
                   "sentAt": None, "skewMs": None, "clamped": False}
    return doc


def store_as_an_older_release(store, app):
    """Written through the store's own methods: the issue's pair (one eventId, two payloads, a
    time before year 1), a record edit whose arrival time reads back as year 0, and an applied
    event whose stored time reads back as year 0, sent again with another payload."""
    enqueue(store, "testapp", [event_item("old2", app_id="testapp")])
    sync(app, store)
    store.replace_event("testapp", "old2", {"timestamp": year_zero(store)})
    note = queue_item("old-note", app_id="testapp", item_type="note",
                      data={"recordId": "r9", "baseVersion": 0, "data": {"t": 1}})
    note.update(recordId="r9", createdAt=year_zero(store))
    again = event_item("old2", app_id="testapp", data={
        "eventId": "old2", "eventType": "lesson_viewed", "eventData": {"n": 2}, "metadata": {}})
    enqueue(store, "testapp", [old_event({"a": 1}), note, again])  # old2 kept under a variant id
    enqueue(store, "testapp", [old_event({"a": 2})])  # and old1 too


def run(how, client, auth, runner):
    """One sync through the API or the command line; both must succeed."""
    if how == "api":
        response = client.post("/api/telemetry/sync?wait=20", headers=auth)
        assert response.status_code == 200, response.get_data(as_text=True)
        return
    result = runner.invoke(args=["sync", "run"])
    assert result.exit_code == 0, result.output


def run_errors(store):
    """Each failed or dead item of the sync runs' batch logs: itemId -> (status, reason)."""
    return {error["itemId"]: (error["status"], error["reason"])
            for log in reversed(store.sync_logs()) for error in log["errors"] or []}


@pytest.mark.logs_errors
@pytest.mark.parametrize(("how", "then"), [("api", "cli"), ("cli", "api")])
def test_sync_succeeds_the_unreadable_items_die_and_other_apps_apply(
        client, auth, api_key, store, app, runner, monkeypatch, how, then):
    decode_like_the_driver(monkeypatch, store)
    store_as_an_older_release(store, app)
    other = {"Authorization": f"Bearer {api_key('ingest', 'otherapp')}"}
    send(client, other, [event("o1"), event("o2")])

    run(how, client, auth, runner)

    for event_id in ("o1", "o2"):
        assert store.get_event("otherapp", event_id) is not None
    assert store.queue_counts("otherapp") == {"done": 2}
    errors = run_errors(store)
    if store.kind == "sqlite":
        # SQLite reads a stored time past the calendar's ends as its first or last instant (a
        # double can round past them): the note applies, and the event sent again with another
        # payload opens its conflict.
        assert "old-note" not in errors
        assert not [item_id for item_id in errors if item_id.startswith("old2~")]
    else:
        status, reason = errors["old-note"]
        assert status == "dead" and reason.startswith("stored item cannot be read: ")
        assert "year 0 is out of range" in reason
        [again] = [item_id for item_id in errors if item_id.startswith("old2~")]
        status, reason = errors[again]
        assert status == "dead" and reason.startswith("cannot open its conflict: ")
        assert "year 0 is out of range" in reason
    assert errors["old1"] == ("dead", errors["old1"][1])
    assert errors["old1"][1].startswith("cannot store its event: ")
    [variant] = [item_id for item_id in errors if item_id.startswith("old1~")]
    assert errors[variant] == (
        "failed", "cannot open its conflict: the event it clashes with is not stored yet")
    assert store.get_event("testapp", "old1") is None  # nothing stored that cannot be read
    readable = store.kind == "sqlite"
    assert store.queue_counts("testapp") == (
        {"done": 2, "dead": 1, "failed": 1, "conflict": 1} if readable
        else {"done": 1, "dead": 3, "failed": 1})

    # The next run is clean: nothing is claimed again before its time.
    run(then, client, auth, runner)
    assert store.sync_logs(limit=1)[0]["itemCount"] == 0
    # The variant's retry finds no event to clash with: it applies, and its time kills it too.
    [log] = sync(app, store, at=item(store, variant)["nextAttemptAt"] + timedelta(seconds=1))
    assert (log["itemCount"], log["failureCount"]) == (1, 1)
    assert store.queue_counts("testapp") == (
        {"done": 2, "dead": 2, "conflict": 1} if readable else {"done": 1, "dead": 4})
    assert sync(app, store, at=utcnow() + timedelta(days=1))[0]["itemCount"] == 0


def test_a_new_event_with_a_time_before_year_one_dies_alone_among_new_events(store, app):
    enqueue(store, "testapp", [event_item(f"n{k}", app_id="testapp") for k in range(3)]
                              + [old_event({"a": 1})]
                              + [event_item(f"n{k}", app_id="testapp") for k in range(3, 6)])
    [log] = sync(app, store)
    assert (log["itemCount"], log["successCount"], log["failureCount"]) == (7, 6, 1)
    [error] = log["errors"]
    assert (error["itemId"], error["status"]) == ("old1", "dead")
    assert error["reason"].startswith("cannot store its event: ")
    assert store.get_event("testapp", "old1") is None
    assert all(store.get_event("testapp", f"n{k}") for k in range(6))
    assert store.queue_counts("testapp") == {"done": 6, "dead": 1}


@pytest.mark.logs_errors
def test_an_item_stored_as_broken_json_dies_alone(store, app):
    broken = event_item("broken", app_id="testapp")
    broken["itemData"] = '{"eventId": "broken", "eventType": '
    enqueue(store, "testapp", [event_item("a", app_id="testapp"), broken,
                              event_item("b", app_id="testapp")])
    [log] = sync(app, store)
    assert (log["successCount"], log["failureCount"]) == (2, 1)
    [error] = log["errors"]
    assert (error["itemId"], error["status"]) == ("broken", "dead")
    assert store.get_event("testapp", "a") and store.get_event("testapp", "b")
    assert store.queue_counts("testapp") == {"done": 2, "dead": 1}
    assert sync(app, store)[0]["itemCount"] == 0
