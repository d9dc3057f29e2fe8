"""Stores made by earlier releases, loaded from the fixtures make_fixture.py wrote.

Each folder of tests/upgrade/fixtures/ holds one release's store as `sqlite.sql` and `mongo.json`,
and `reads.json`: that release's answers to every API read of it. An app is built over the
store as the release left it, before anything opens it, the way a user starts a new release on
the store they have.
"""

import json
import re
import sqlite3
from pathlib import Path

from bson import json_util

from tests.conftest import make_app

FIXTURES = Path(__file__).resolve().parent / "fixtures"
# Every fixture, oldest release first (each folder is named by its commit's date and hash).
RELEASES = sorted(path.name for path in FIXTURES.iterdir() if path.is_dir())
# The newest release from before versioned stores: its store is what upgrade step 1 makes.
LAST_UNVERSIONED = [release for release in RELEASES if "schema_versions" not in
                    (FIXTURES / release / "sqlite.sql").read_text()][-1]


def fixture_version(release):
    """The schema version the release left its store at (0: from before versioned stores)."""
    text = (FIXTURES / release / "sqlite.sql").read_text()
    found = re.findall(r'INSERT INTO "?schema_versions"? VALUES\((\d+),', text)
    return max(map(int, found), default=0)


def recorded(release):
    return json.loads((FIXTURES / release / "reads.json").read_text())


def load_sqlite(release, path):
    conn = sqlite3.connect(path)
    conn.executescript((FIXTURES / release / "sqlite.sql").read_text())
    conn.close()


def load_mongo(release, db):
    collections = json_util.loads((FIXTURES / release / "mongo.json").read_text())
    for name, content in collections.items():
        for index in content["indexes"]:
            options = {k: v for k, v in index.items() if k != "key"}
            db[name].create_index([tuple(pair) for pair in index["key"]], **options)
        if content["documents"]:
            db[name].insert_many(content["documents"])


def app_on_release_store(release, tmp_path, store_kind, **overrides):
    """A testing app over the store `release` made, not opened yet."""
    if store_kind == "sqlite":
        load_sqlite(release, tmp_path / "prepmate.sqlite3")
    app = make_app(tmp_path, store_kind, **overrides)
    if store_kind != "sqlite":
        load_mongo(release, app.extensions["prepmate.store"]["store"].db)
    return app


def replay(app, release, store_kind):
    """(recorded read, this app's answer) for every read the release's fixture recorded."""
    fixture = recorded(release)
    kind = "sqlite" if store_kind == "sqlite" else "mongo"
    keys = fixture["keys"][kind]
    client = app.test_client()
    for read in fixture["reads"][kind]:
        headers = {"Authorization": f"Bearer {keys[read['key']]}"} if read["key"] else {}
        yield read, client.open(read["path"], method=read["method"], headers=headers)
