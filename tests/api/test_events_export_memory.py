"""The export of 100,000 events on SQLite: every line checked, in order, and memory flat.

Each export runs in a subprocess of its own that reads the answer piece by piece as a client
would and samples its resident memory as it goes; 100,000 events must need no more memory than
10,000 (a few MB apart at most, where holding the events would take some 50 MB). mongomock is
too slow for this many: the Mongo adapter runs the same export, smaller, in test_events_api.py.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.accounts.keys import create_key
from app.store import create_store, schema

from .events_seed import seed_events

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
BIG, SMALL = 100_000, 10_000
# Resident memory the larger export may add over the smaller one.
SLACK_KB = 4 * 1024

EXPORTER = r"""
import csv, json, os, sys

from app import create_app

def rss_kb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))

path, key, fmt, count, app_id = sys.argv[1:]
count = int(count)
app = create_app({"APP_ENV": "testing", "SQLITE_PATH": path, "ENABLE_SCHEDULED_SYNC": False})
client = app.test_client()
headers = {"Authorization": f"Bearer {key}"}
client.get("/api/telemetry/events/export?eventType=none", headers=headers).close()  # warm up
before = peak = rss_kb()
answer = client.get(f"/api/telemetry/events/export?format={fmt}", headers=headers,
                    buffered=False)
assert answer.status_code == 200, answer.status_code
rest, seen = "", 0
if fmt == "csv":
    header = None
for piece in answer.response:
    text = rest + (piece.decode() if isinstance(piece, bytes) else piece)
    *lines, rest = text.split("\n")
    for line in lines:
        if fmt == "ndjson":
            event = json.loads(line)
            event_id, n = event["eventId"], event["eventData"]["n"]
            assert event["appId"] == app_id and event["userId"] == f"u{n % 1000}", line
        else:
            if header is None:
                header = line
                continue
            [row] = csv.reader([line])
            event_id, n = row[0], json.loads(row[7])["n"]
        assert event_id == f"{app_id}-e{seen:07d}" and n == seen, (line, seen)
        seen += 1
    if seen % 5000 < 1000:
        peak = max(peak, rss_kb())
answer.close()
assert rest == "" and seen == count, (rest, seen)
print(json.dumps({"lines": seen, "grew_kb": max(peak, rss_kb()) - before}))
"""


@pytest.fixture(scope="module")
def exported_store(tmp_path_factory):
    """A SQLite file holding 100,000 events of app "big" and 10,000 of app "small"."""
    path = tmp_path_factory.mktemp("export") / "prepmate.sqlite3"
    store = create_store({"SQLITE_PATH": str(path)})
    schema.open_store(store)
    seed_events(store, "big", BIG)
    seed_events(store, "small", SMALL)
    keys = {app_id: create_key(store, app_id, ["read"])[0] for app_id in ("big", "small")}
    store.close()
    return path, keys


def export(exported_store, app_id, count, fmt="ndjson"):
    path, keys = exported_store
    done = subprocess.run(
        [sys.executable, "-c", EXPORTER, str(path), keys[app_id], fmt, str(count), app_id],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "LOG_LEVEL": "warning"})
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_100000_events_export_line_by_line_with_flat_memory(exported_store):
    small = export(exported_store, "small", SMALL)
    big = export(exported_store, "big", BIG)
    assert (small["lines"], big["lines"]) == (SMALL, BIG)
    assert big["grew_kb"] - small["grew_kb"] < SLACK_KB, (big, small)


def test_100000_events_export_as_csv(exported_store):
    assert export(exported_store, "big", BIG, "csv")["lines"] == BIG
