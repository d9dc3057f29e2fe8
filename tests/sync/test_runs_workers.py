"""Sync runs under `gunicorn -w 2`: a run started on one worker is followed from the other, and
a run whose worker is killed is reported abandoned while the next run takes over."""

import json
import os
import signal
import urllib.error
import urllib.request

import pytest

from app.accounts.keys import create_key
from tests.stored import telemetry_count
from tests.test_gunicorn import serving_gunicorn
from tests.waiting import wait_for

from .helpers import event

pytestmark = pytest.mark.multiprocess

ITEMS = 150


def call(url, key, method="GET", body=None):
    """(status, headers, JSON body) of one request."""
    request = urllib.request.Request(
        url, method=method, data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, json.load(exc)


def test_a_run_is_followed_from_the_other_worker_and_reported_abandoned_when_killed(
        tmp_path, store_kind):
    # One-item batches make a run of 150 items last long enough (a second) to stop it mid-way.
    settings = {"SYNC_BATCH_SIZE": "1", "SYNC_LEASE_SECONDS": "2", "SYNC_MAX_QUEUE": "10000"}
    with serving_gunicorn(tmp_path, store_kind=store_kind, **settings) as (url, store):
        key, _ = create_key(store, "testapp", ["ingest", "read", "admin"])
        status, _, _ = call(f"{url}/api/telemetry/batch", key, "POST", {
            "batchId": "b1", "userId": "u1", "items": [event() for _ in range(ITEMS)]})
        assert status == 202
        status, headers, run = call(f"{url}/api/telemetry/sync", key, "POST")
        assert status == 202
        worker = store.get_sync_run(run["runId"])["pid"]

        def started_applying():
            progress = store.get_sync_run(run["runId"])["progress"]
            return bool(progress and progress["itemCount"])

        # Stopped once its first batches are committed, so both runs have a share to count.
        assert wait_for(started_applying, 10, interval=0.005)
        os.kill(worker, signal.SIGSTOP)
        try:
            # The worker running it answers nothing now: the other one does, from the store.
            status, _, seen = call(url + headers["Location"], key)
            assert status == 200
            assert (seen["runId"], seen["state"]) == (run["runId"], "running")
            assert seen["progress"]["itemCount"] < ITEMS
        finally:
            os.kill(worker, signal.SIGKILL)

        def state():
            return call(url + headers["Location"], key)[2]["state"]

        # No heartbeat past its lease: reported abandoned, and no longer in the way.
        assert wait_for(lambda: state() == "abandoned", 10)
        status, _, rest = call(f"{url}/api/telemetry/sync?wait=20", key, "POST")
        assert status == 200
        assert 0 < rest["successCount"] < ITEMS
        assert store.queue_counts() == {"done": ITEMS}
        assert telemetry_count(store) == ITEMS
        assert state() == "abandoned"
