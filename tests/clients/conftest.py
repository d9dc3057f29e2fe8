"""Fixtures for the client SDK tests: the Python SDK on sys.path, server-side counts, Chromium."""

import json
import os
import sqlite3
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYTHON_SDK = ROOT / "clients" / "python"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# The SDK of this checkout, whatever is pip-installed (an editable install may point at another
# checkout); the subprocesses the tests start get the same path first (sdk_env).
sys.path.insert(0, str(PYTHON_SDK))
import prepmate_telemetry  # noqa: E402

if Path(prepmate_telemetry.__file__).resolve().parents[1] != PYTHON_SDK.resolve():
    raise RuntimeError(f"prepmate_telemetry was imported from {prepmate_telemetry.__file__}, "
                       f"not from {PYTHON_SDK}")


# metadata.clientTimestamp values and whether the server's rules (SPEC §10) take them; both SDKs
# must refuse at capture what the server would refuse.
CLIENT_TIMES = [
    ("2020-02-29T23:59:59.123456+05:30", True),
    ("0001-01-01T00:00:00Z", True),
    ("0001-01-01T14:00:00+14:00", True),
    ("9999-12-31T23:59:59.999999Z", True),
    ("9999-12-31T11:59:59-12:00", True),
    ("0001-01-01T00:00:00+14:00", False),  # before year 1 in UTC
    ("9999-12-31T23:59:59-12:00", False),  # after 9999 in UTC
    ("2026-02-29T00:00:00Z", False),
    ("2026-01-01T24:00:00Z", False),
    ("2026-01-01T00:00:00+24:00", False),
    ("2026-01-01T12:00:00", False),  # no offset
    ("2026-01-01T12:00:00.1234567Z", False),
    ("2026-01-01 12:00:00Z", False),
    ("2026-01-01T12:00:00Z\n", False),
    ("yesterday", False),
    (1767225600, False),
]


def sdk_env():
    """Environment for subprocesses that import prepmate_telemetry from the work tree."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PYTHON_SDK), env.get("PYTHONPATH")]))
    return env


def sqlite_path(app):
    """The server's SQLite file, as configured for the app under test."""
    path = app.config["SQLITE_PATH"]
    return path if os.path.isabs(path) else os.path.join(app.instance_path, path)


class ServerCounts:
    """What the server's store holds, read straight from its SQLite file (read-only)."""

    def __init__(self, app):
        self.path = sqlite_path(app)

    def _query(self, sql, params):
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def query(self, sql, params=()):
        """Any read-only query on the server's store."""
        return self._query(sql, params)

    def events(self, user_ids):
        """Event rows queued for these users: (rows, distinct eventIds, variant rows)."""
        marks = ",".join("?" * len(user_ids))
        ((rows, distinct, variants),) = self._query(
            "SELECT COUNT(*), COUNT(DISTINCT itemId), "
            "COUNT(CASE WHEN conflictOf IS NOT NULL THEN 1 END) "
            f"FROM sync_queue WHERE itemType = 'event' AND userId IN ({marks})",
            list(user_ids),
        )
        return rows, distinct, variants

    def event_ids(self, user_ids):
        """The itemIds of the event rows queued for these users."""
        marks = ",".join("?" * len(user_ids))
        rows = self._query(
            f"SELECT itemId FROM sync_queue WHERE itemType = 'event' AND userId IN ({marks})",
            list(user_ids),
        )
        return [r[0] for r in rows]

    def event_items(self, user_ids):
        """The event items queued for these users, as stored (eventType, eventData, metadata)."""
        marks = ",".join("?" * len(user_ids))
        rows = self._query(
            f"SELECT itemData FROM sync_queue WHERE itemType = 'event' AND userId IN ({marks})",
            list(user_ids),
        )
        return [json.loads(r[0]) for r in rows]

    def batch_logs(self, batch_id):
        """How many batch logs the server wrote for one batchId."""
        ((n,),) = self._query("SELECT COUNT(*) FROM batch_logs WHERE batchId = ?", (batch_id,))
        return n


@pytest.fixture
def records_api(live_server):
    """The live server, which must serve the records pull endpoint the SDKs use."""
    rules = {rule.rule for rule in live_server.app.url_map.iter_rules()}
    assert "/api/telemetry/records" in rules, "the server must serve GET /api/telemetry/records"
    return live_server


@pytest.fixture
def apply_queue(live_server, store):
    """Runs the server's sync engine once, as "Sync now" would."""
    from app.sync.engine import run_sync

    return lambda: run_sync(store, live_server.app.config, source="manual")


@pytest.fixture
def counts(live_server):
    """Counts in the live server's store."""
    return ServerCounts(live_server.app)


@pytest.fixture
def ingest_key(api_key):
    """A key allowed to ingest and read, for an app of its own."""
    return api_key(scopes="ingest,read", app_name=f"sdk-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def unique_user():
    """A userId no other test uses, so counts per user belong to one test."""
    return f"user-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def chromium():
    """Debian's Chromium, headless, shared by the browser tests of one run."""
    from playwright import sync_api as playwright_api

    if not os.path.exists(CHROMIUM):
        pytest.fail("the browser tests need Debian's chromium at /usr/bin/chromium "
                    "(scripts/setup --dev installs it)")
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
