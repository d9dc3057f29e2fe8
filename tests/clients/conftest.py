"""Fixtures for the client SDK tests: the Python SDK on sys.path, server-side counts, Chromium."""

import json
import os
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from app.extensions import store as store_ext
from app.store.common import utcnow
from tests.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: F401 (used by the browser tests)

ROOT = Path(__file__).resolve().parents[2]
PYTHON_SDK = ROOT / "clients" / "python"

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


class ServerCounts:
    """What the server's store holds, read through the store's own operations (either store)."""

    PAGE = 500

    def __init__(self, app):
        self.store = store_ext.get(app)
        self.kind = self.store.kind

    def queued(self, user_id, item_type="event"):
        """One user's queue entries of one type (no payloads), in arrival order."""
        rows, before = [], None
        while True:
            page = self.store.queue_page({"userId": user_id, "itemType": item_type},
                                         before_id=before, limit=self.PAGE)
            rows += page
            if len(page) < self.PAGE:
                return rows[::-1]
            before = page[-1]["id"]

    def events(self, user_ids):
        """Event rows queued for these users: (rows, distinct eventIds, variant rows)."""
        rows = [row for user_id in user_ids for row in self.queued(user_id)]
        return (len(rows), len({row["itemId"] for row in rows}),
                sum(1 for row in rows if row["conflictOf"] is not None))

    def event_ids(self, user_ids):
        """The itemIds of the event rows queued for these users."""
        return [row["itemId"] for user_id in user_ids for row in self.queued(user_id)]

    def event_items(self, user_ids):
        """The event items queued for these users, as stored (eventType, eventData, metadata)."""
        return [self.payload(row) for user_id in user_ids for row in self.queued(user_id)]

    def payload(self, row):
        """A queue entry's item as stored."""
        data = self.store.get_queue_item(row["appId"], row["itemId"])["itemData"]
        return json.loads(data) if isinstance(data, str) else data

    def batch_logs_of(self, user_id):
        """The client batch logs of one user (no per-item results)."""
        logs = self.store.batch_page(utcnow() - timedelta(days=1), source="client", limit=10_000)
        return [log for log in logs if log["userId"] == user_id]

    def batch_logs(self, batch_id):
        """How many batch logs the server wrote for one batchId."""
        logs = self.store.batch_page(utcnow() - timedelta(days=1), source="client", limit=10_000)
        return sum(1 for log in logs if log["batchId"] == batch_id)


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
