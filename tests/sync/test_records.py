"""Record edits through the engine: versions, each conflict strategy, history kept."""

import pytest

from .helpers import edit, item, send, sync


def versions(store, record_id, record_type="note"):
    record = store.get_record("testapp", record_type, record_id)
    return [store.get_record_version("testapp", record_type, record_id, v)["data"]
            for v in range(1, record["version"] + 1)]


def test_an_edit_at_the_server_version_applies_and_bumps_it(client, auth, store, app):
    send(client, auth, [edit("i1", "r1", 0, {"title": "a"})])
    sync(app, store)
    send(client, auth, [edit("i2", "r1", 1, {"title": "b"})])
    sync(app, store)
    record = store.get_record("testapp", "note", "r1")
    assert (record["version"], record["data"]) == (2, {"title": "b"})
    assert versions(store, "r1") == [{"title": "a"}, {"title": "b"}]


def test_edits_of_one_record_apply_in_the_order_the_client_made_them(client, auth, store, app):
    send(client, auth, [
        edit("later", "r1", 1, {"title": "second"}, clientTimestamp="2026-01-01T10:00:01Z"),
        edit("first", "r1", 0, {"title": "first"}, clientTimestamp="2026-01-01T10:00:00Z"),
    ])
    [log] = sync(app, store)
    assert log["successCount"] == 2 and log["conflictCount"] == 0
    assert store.get_record("testapp", "note", "r1")["data"] == {"title": "second"}


def stale_edit(client, auth, store, app, client_data, **extra):
    """r1 at version 2 ({"title": "server", "body": "b"}), then an edit made from version 1."""
    send(client, auth, [edit("v1", "r1", 0, {"title": "base", "body": "b"},
                             clientTimestamp="2026-01-01T10:00:00Z")])
    sync(app, store)
    send(client, auth, [edit("v2", "r1", 1, {"title": "server", "body": "b"},
                             clientTimestamp="2026-01-01T11:00:00Z")])
    sync(app, store)
    send(client, auth, [edit("stale", "r1", 1, client_data, **extra)])
    return sync(app, store)[0]


@pytest.mark.parametrize(("strategy", "client_ts", "expected", "resolution"), [
    ("server_wins", "2026-01-01T12:00:00Z", {"title": "server", "body": "b"}, "server"),
    ("client_wins", "2026-01-01T09:00:00Z", {"title": "client", "body": "c"}, "client"),
    ("last_write_wins", "2026-01-01T12:00:00Z", {"title": "client", "body": "c"}, "client"),
    ("last_write_wins", "2026-01-01T10:30:00Z", {"title": "server", "body": "b"}, "server"),
])
def test_automatic_strategies_settle_a_stale_edit_and_keep_every_value(
        client, auth, store, app, strategy, client_ts, expected, resolution):
    log = stale_edit(client, auth, store, app, {"title": "client", "body": "c"},
                     conflictResolution=strategy, clientTimestamp=client_ts)
    assert (log["successCount"], log["conflictCount"]) == (1, 0)
    assert store.get_record("testapp", "note", "r1")["data"] == expected
    [conflict] = store.list_conflicts("testapp")
    assert conflict["status"] == "resolved" and conflict["resolution"] == resolution
    assert conflict["strategy"] == strategy and conflict["resolvedBy"] == f"sync:{strategy}"
    assert conflict["base"] == {"title": "base", "body": "b"}
    assert conflict["server"] == {"title": "server", "body": "b"}
    assert conflict["client"] == {"title": "client", "body": "c"}
    assert item(store, "stale")["status"] == "done"
    [entry] = [e for e in store.list_audit() if e["action"] == "conflict.resolve"]
    assert entry["actor"] == f"sync:{strategy}"
    assert entry["details"]["resolution"] == resolution


def test_last_write_wins_breaks_ties_by_item_id(client, auth, store, app):
    log = stale_edit(client, auth, store, app, {"title": "client"},
                     conflictResolution="last_write_wins", clientTimestamp="2026-01-01T11:00:00Z")
    # Same time as v2's edit: the larger itemId ("v2" > "stale") wins, every time.
    assert log["successCount"] == 1
    assert store.get_record("testapp", "note", "r1")["data"] == {"title": "server", "body": "b"}


def test_merge_combines_one_sided_changes(client, auth, store, app):
    log = stale_edit(client, auth, store, app, {"title": "base", "body": "client body"},
                     conflictResolution="merge")
    assert log["successCount"] == 1
    record = store.get_record("testapp", "note", "r1")
    assert record["data"] == {"title": "server", "body": "client body"}
    assert record["version"] == 3


def test_merge_falls_back_to_manual_when_both_sides_changed_a_field(client, auth, store, app):
    log = stale_edit(client, auth, store, app, {"title": "client", "body": "b"})
    assert (log["successCount"], log["conflictCount"]) == (0, 1)
    [conflict] = store.list_conflicts("testapp", status="open")
    assert (conflict["strategy"], conflict["fields"]) == ("merge", ["title"])
    assert store.get_record("testapp", "note", "r1")["version"] == 2
    assert item(store, "stale")["status"] == "conflict"


@pytest.mark.parametrize("app_config", [{"CONFLICT_STRATEGIES": {"note": "client_wins"}}])
def test_the_record_type_strategy_applies_when_the_item_names_none(client, auth, store, app):
    stale_edit(client, auth, store, app, {"title": "client"})
    assert store.get_record("testapp", "note", "r1")["data"] == {"title": "client"}


@pytest.mark.parametrize("app_config", [{"CONFLICT_DEFAULT_STRATEGY": "manual"}])
def test_the_default_strategy_applies_last(client, auth, store, app):
    log = stale_edit(client, auth, store, app, {"title": "base", "body": "x"})
    assert log["conflictCount"] == 1
    [conflict] = store.list_conflicts("testapp", status="open")
    assert conflict["strategy"] == "manual"


def test_a_base_version_ahead_of_the_server_is_dead_at_once_and_blocks_nothing(
        client, auth, store, app):
    send(client, auth, [edit("ahead", "r1", 5, {"title": "x"}), edit("ok", "r2", 0, {"t": 1})])
    [log] = sync(app, store)
    assert (log["failureCount"], log["successCount"], log["status"]) == (1, 1, "partial")
    dead = item(store, "ahead")
    assert dead["status"] == "dead" and dead["attempts"] == 1
    assert "baseVersion 5 is ahead of the server's version 0" in dead["lastError"]
    assert log["errors"] == [{"itemId": "ahead", "appId": "testapp", "status": "dead",
                              "reason": dead["lastError"]}]
    assert store.get_record("testapp", "note", "r2")["version"] == 1


@pytest.mark.parametrize("app_config", [{"CONFLICT_DEFAULT_STRATEGY": "manual"}])
def test_the_same_edit_from_two_devices_is_no_conflict(client, auth, store, app):
    send(client, auth, [edit("phone", "r1", 0, {"title": "same"})])
    sync(app, store)
    send(client, auth, [edit("laptop", "r1", 0, {"title": "same"})])
    [log] = sync(app, store)
    assert (log["duplicateCount"], log["conflictCount"]) == (1, 0)
    assert store.list_conflicts("testapp", status="open") == []
    assert store.get_record("testapp", "note", "r1")["version"] == 1
    assert item(store, "laptop")["status"] == "done"


def test_a_chain_of_edits_applies_by_base_version_even_when_clocks_disagree(
        client, auth, store, app):
    # Two quick saves: skew correction gave the second a time a few ms before the first.
    send(client, auth, [
        edit("second", "r1", 1, {"title": "b"}, clientTimestamp="2026-01-01T10:00:00.000Z"),
        edit("first", "r1", 0, {"title": "a"}, clientTimestamp="2026-01-01T10:00:00.004Z"),
    ])
    [log] = sync(app, store)
    assert (log["successCount"], log["failureCount"]) == (2, 0)
    record = store.get_record("testapp", "note", "r1")
    assert (record["version"], record["data"]) == (2, {"title": "b"})
