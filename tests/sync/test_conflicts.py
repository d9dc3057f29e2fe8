"""Resolving conflicts by hand: the service the API and the console share."""

import pytest

from app.sync.conflicts import (
    ConflictAlreadyResolved,
    ConflictNotFound,
    InvalidResolution,
    list_conflicts,
    resolve_conflict,
)
from tests.stored import telemetry_count

from .helpers import event, item, manual_conflict, send, sync


@pytest.fixture
def open_conflict(client, auth, store, app):
    """A manual conflict on note r1: server {"title": "server"}, client {"title": "client"}."""
    return manual_conflict(client, auth, store, app)


@pytest.mark.parametrize(("resolution", "data", "expected", "version"), [
    ("server", None, {"title": "server"}, 2),
    ("client", None, {"title": "client"}, 3),
    ("merged", {"title": "both"}, {"title": "both"}, 3),
])
def test_a_resolution_applies_the_chosen_value_and_is_audited(
        store, app, open_conflict, resolution, data, expected, version):
    resolved = resolve_conflict(store, app.config, "testapp", open_conflict["id"], resolution,
                                data, actor="alice")
    assert (resolved["status"], resolved["resolvedBy"]) == ("resolved", "alice")
    record = store.get_record("testapp", "note", "r1")
    assert (record["data"], record["version"]) == (expected, version)
    stored = store.get_conflict("testapp", open_conflict["id"])
    assert (stored["status"], stored["resolution"]) == ("resolved", resolution)
    assert item(store, "c1")["status"] == "done"
    [entry] = [e for e in store.list_audit() if e["action"] == "conflict.resolve"]
    assert entry["actor"] == "alice" and entry["target"] == f"conflict:{open_conflict['id']}"
    assert entry["details"]["resolution"] == resolution
    # Every earlier version is still in the history.
    assert store.get_record_version("testapp", "note", "r1", 1)["data"] == {"title": "base"}


def test_a_conflict_resolves_once(store, app, open_conflict):
    resolve_conflict(store, app.config, "testapp", open_conflict["id"], "server")
    with pytest.raises(ConflictAlreadyResolved):
        resolve_conflict(store, app.config, "testapp", open_conflict["id"], "client")


@pytest.mark.parametrize(("app_id", "conflict_id"), [("otherapp", None), ("testapp", "999")])
def test_an_unknown_conflict_or_another_apps_is_not_found(store, app, open_conflict, app_id,
                                                          conflict_id):
    with pytest.raises(ConflictNotFound):
        resolve_conflict(store, app.config, app_id, conflict_id or open_conflict["id"], "server")


def test_operators_resolve_any_apps_conflict(store, app, open_conflict):
    resolve_conflict(store, app.config, None, open_conflict["id"], "client", actor="op")
    assert store.get_record("testapp", "note", "r1")["data"] == {"title": "client"}


@pytest.mark.parametrize(("resolution", "data"), [
    ("merged", None), ("merged", ["x"]), ("merged", {"$set": 1}), ("merged", {"a.b": 1}),
    ("merged", {"a": {"$x": 1}}), ("theirs", None),
    # Integers no store keeps exactly (MongoDB refused them with a 500).
    ("merged", {"n": 2 ** 63}), ("merged", {"a": [1, {"b": -(2 ** 63) - 1}]}),
])
def test_invalid_resolutions_change_nothing(store, app, open_conflict, resolution, data):
    with pytest.raises(InvalidResolution):
        resolve_conflict(store, app.config, "testapp", open_conflict["id"], resolution, data)
    assert store.get_conflict("testapp", open_conflict["id"])["status"] == "open"
    assert store.get_record("testapp", "note", "r1")["version"] == 2


def test_an_event_conflict_resolved_for_the_client_keeps_its_payload(client, auth, store, app):
    send(client, auth, [event("e1", eventData={"questionId": "q1"})])
    send(client, auth, [event("e1", eventData={"questionId": "q2"})])
    sync(app, store)
    [conflict] = store.list_conflicts("testapp", status="open")
    resolve_conflict(store, app.config, "testapp", conflict["id"], "client")
    assert store.get_event("testapp", "e1")["eventData"] == {"questionId": "q2"}
    assert store.queue_counts() == {"done": 2}
    assert telemetry_count(store) == 1


def test_listing_pages_newest_first_and_filters_by_status(client, auth, store, app):
    for n in range(3):
        send(client, auth, [event("e1", eventData={"questionId": f"q{n}"})])
    sync(app, store)
    page, cursor = list_conflicts(store, "testapp", status="open", limit=1)
    rest, end = list_conflicts(store, "testapp", status="open", limit=5, cursor=cursor)
    assert len(page) == 1 and len(rest) == 1 and end is None
    # Ids are opaque: the newest is the one the last copy (q2) opened.
    assert [store.get_conflict("testapp", c["id"])["client"]["eventData"]["questionId"]
            for c in page + rest] == ["q2", "q1"]
    assert list_conflicts(store, "testapp", status="resolved") == ([], None)
