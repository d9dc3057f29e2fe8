"""The timed and eager sync: an accepted batch is applied within seconds without a manual sync,
and under two gunicorn workers only one sync runs at a time."""

import json
import threading
import time
import urllib.request
from datetime import timedelta

import pytest

from app.accounts.keys import create_key
from app.store.common import utcnow
from app.sync.jobs import LOCK_NAME
from tests.stored import telemetry_count
from tests.test_gunicorn import serving_gunicorn
from tests.waiting import wait_for

from .helpers import event


@pytest.fixture
def app_config():
    # A long interval: only the eager run can apply a batch within seconds.
    return {"ENABLE_SCHEDULED_SYNC": True, "SYNC_INTERVAL_MINUTES": 60,
            "SYNC_EAGER_DELAY_SECONDS": 0.3}


def test_an_accepted_batch_is_applied_within_seconds(client, auth, store, running_scheduler):
    status = client.get("/api/telemetry/status", headers=auth).get_json()["syncStatus"]
    assert status["schedulerRunning"] and status["nextSyncTime"]
    response = client.post("/api/telemetry/batch", headers=auth, json={
        "batchId": "b1", "userId": "u1", "items": [event("e1"), event("e2")]})
    assert response.status_code == 202
    sent = time.monotonic()
    assert wait_for(lambda: store.queue_counts() == {"done": 2}, 4)
    assert time.monotonic() - sent < 4

    def synced():
        # The items are done before their run has ended and noted its end time.
        status = client.get("/api/telemetry/status", headers=auth).get_json()["syncStatus"]
        return status["lastSyncTime"] and status["pendingItems"] == 0 and status["doneItems"] == 2

    assert wait_for(synced, 4)


def test_an_eager_sync_that_finds_another_run_going_tries_again(client, auth, store,
                                                                running_scheduler):
    now = utcnow()
    store.acquire_lock(LOCK_NAME, "another-host", now + timedelta(minutes=1), now)
    response = client.post("/api/telemetry/batch", headers=auth, json={
        "batchId": "b1", "userId": "u1", "items": [event("e1")]})
    assert response.status_code == 202
    time.sleep(1.5)
    assert store.queue_counts() == {"pending": 1}
    store.release_lock(LOCK_NAME, "another-host")
    assert wait_for(lambda: store.queue_counts() == {"done": 1}, 3)


def post(url, key, body):
    request = urllib.request.Request(
        f"{url}/api/telemetry/batch", data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


@pytest.mark.multiprocess
def test_two_gunicorn_workers_run_one_sync_at_a_time(tmp_path, store_kind):
    # Both workers start together, so their timers fire together (first run 5 s after start,
    # then every 3 s), and one-item batches make a run of 2000 items last seconds: without the
    # lease the second worker's run would overlap the first's.
    with serving_gunicorn(tmp_path, store_kind=store_kind, ENABLE_SCHEDULED_SYNC="true",
                          SYNC_INTERVAL_MINUTES="0.05", SYNC_EAGER_DELAY_SECONDS="60",
                          SYNC_BATCH_SIZE="1",
                          SYNC_MAX_QUEUE="100000") as (url, store):
        key, _doc = create_key(store, "testapp", ["ingest", "read"])
        sent = []

        def sender(n):
            for i in range(2):
                answer = post(url, key, {"batchId": f"b{n}-{i}", "userId": f"u{n}",
                                         "items": [event() for _ in range(500)]})
                sent.append(answer["accepted"])

        threads = [threading.Thread(target=sender, args=(n,)) for n in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert wait_for(lambda: store.queue_counts() == {"done": sum(sent)}, 20)
        assert sum(sent) == 2000
        assert telemetry_count(store) == 2000
        logs = sorted(store.sync_logs(limit=100_000), key=lambda log: log["startTime"])
    assert sum(log["successCount"] for log in logs) == 2000
    assert {log["source"] for log in logs} == {"scheduled"}
    for earlier, later in zip(logs, logs[1:], strict=False):
        assert earlier["endTime"] <= later["startTime"], (earlier, later)

