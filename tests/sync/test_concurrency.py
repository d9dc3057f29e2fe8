"""Several sync processes over one queue, one of them killed mid-batch: every item is applied
exactly once. On SQLite, and on MongoDB when TEST_MONGODB_URI names a real server."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.stored import stored_event_ids, telemetry_count

from .helpers import event, send, sync

ROOT = Path(__file__).resolve().parents[2]
ITEMS = 2000

pytestmark = pytest.mark.multiprocess


@pytest.fixture
def app_config():
    return {"SYNC_MAX_QUEUE": 100_000, "SYNC_LEASE_SECONDS": 2}


def worker(path, *mode):
    return subprocess.Popen(
        [sys.executable, "-m", "tests.sync.sync_worker", path, *mode], cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=subprocess.PIPE, text=True)


def test_two_workers_and_a_killed_one_apply_every_item_exactly_once(client, auth, store, app):
    for start in range(0, ITEMS, 500):
        send(client, auth, [event(f"e{n}") for n in range(start, start + 500)])
    # The workers' store: this SQLite file, or (with TEST_MONGODB_URI) this MongoDB database.
    path = app.config.get("MONGODB_URI") or app.config["SQLITE_PATH"]
    victim = worker(path, "slow")
    try:
        assert victim.stdout.readline().strip() == "applying"
        # The victim is inside a batch, holding its claim, when it is killed.
        victim.send_signal(signal.SIGKILL)
        workers = [worker(path, "paced"), worker(path, "paced")]
        applied = [int(w.communicate(timeout=120)[0].strip().splitlines()[-1]) for w in workers]
    finally:
        victim.kill()
        victim.communicate()
    assert victim.returncode == -signal.SIGKILL
    # Whatever the killed process held is claimable again once its lease has run out.
    time.sleep(2.1)
    logs = sync(app, store)
    total = sum(applied) + sum(log["successCount"] for log in logs)
    assert total == ITEMS
    assert sum(log["successCount"] for log in store.sync_logs(limit=10_000)) == ITEMS
    assert telemetry_count(store) == ITEMS
    every_id = {f"e{n}" for n in range(ITEMS)}
    assert stored_event_ids(store, every_id) == every_id
    assert store.queue_counts() == {"done": ITEMS}
    assert all(a > 0 for a in applied), applied
