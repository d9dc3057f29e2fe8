"""Upgrade step 5 ("privacy"): a store from an earlier release gains the userId of its conflicts
and record versions, filled in from what it holds, and loses nothing.

A conflict's person is its queue item's; a record version's is the queue item's that wrote it,
else the record's. Each release's fixture (tests/upgrade/fixtures/) is arranged before it is
opened: the record settings-u2's owner is renamed and the queue item that wrote its version is
gone (so only the record can name the version's person), and settings-u1's owner is renamed
while its writers stay (so the queue item, not the record, must name them).
"""

import sqlite3

import pytest

from app.extensions import store
from app.store import schema
from tests.conftest import close_app

from .fixtures import RELEASES, app_on_release_store, fixture_version

pytestmark = pytest.mark.parametrize("release", RELEASES)

APP = "fixture-app"


def arrange(app, tmp_path, store_kind):
    """The fixture's store as described above, before the app opens it."""
    if store_kind == "sqlite":
        conn = sqlite3.connect(tmp_path / "prepmate.sqlite3")
        with conn:
            conn.execute("DELETE FROM sync_queue WHERE itemId = 'rec-2'")
            conn.execute("UPDATE records SET userId = 'owner-2' WHERE recordId = 'settings-u2'")
            conn.execute("UPDATE records SET userId = 'owner-1' WHERE recordId = 'settings-u1'")
        conn.close()
        return
    db = app.extensions["prepmate.store"]["store"].db
    db.sync_queue.delete_one({"appId": APP, "itemId": "rec-2"})
    db.records.update_one({"recordId": "settings-u2"}, {"$set": {"userId": "owner-2"}})
    db.records.update_one({"recordId": "settings-u1"}, {"$set": {"userId": "owner-1"}})
    # Releases before step 5 kept no userId on either (the Mongo adapter kept the record's on
    # versions: the step must fill in what a version lacks, as on SQLite).
    db.record_versions.update_many({}, {"$unset": {"userId": ""}})
    db.conflicts.update_many({}, {"$unset": {"userId": ""}})


def snapshot(the_store):
    conflicts = the_store.list_conflicts(app_id=APP, limit=100)
    versions = [the_store.get_record_version(APP, "user_settings", record_id, version)
                for record_id, version in (("settings-u1", 1), ("settings-u1", 2),
                                           ("settings-u2", 1))]
    return conflicts, versions


def test_step_5_fills_in_the_person_of_conflicts_and_record_versions(release, tmp_path,
                                                                     store_kind):
    assert fixture_version(release) < 5
    app = app_on_release_store(release, tmp_path, store_kind)
    try:
        arrange(app, tmp_path, store_kind)
        with app.app_context():
            the_store = store.get(app)
            assert store.schema_state(app)["version"] == schema.LATEST
            conflicts, versions = snapshot(the_store)
        by_item = {c["itemId"]: c["userId"] for c in conflicts}
        # Every conflict is still there, each with its queue item's person.
        assert sorted(by_item.values()) == ["u1", "u1", "u1", "u2"]
        assert by_item["rec-4"] == by_item["rec-5"] == "u1"
        assert [by_item[i] for i in by_item if i.startswith("evt-1~")].count("u2") == 1
        # Nothing else of them changed.
        assert {c["status"] for c in conflicts} == {"open", "resolved"}
        assert all(c["server"] is not None and c["client"] is not None for c in conflicts)
        # Versions: the writer's person where its item is kept, else the record's.
        assert [v["userId"] for v in versions] == ["u1", "u1", "owner-2"]
        assert [v["data"] for v in versions] == [{"fontSize": 14, "theme": "dark"},
                                                 {"fontSize": 14, "theme": "solarized"},
                                                 {"theme": "light"}]
        assert [v["itemId"] for v in versions] == ["rec-1", "rec-3", "rec-2"]
    finally:
        close_app(app)
