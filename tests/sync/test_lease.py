"""A run that loses the sync lease (its heartbeat finds another run holding it) claims no further
batch, and its record says why it stopped; on SQLite and on the Mongo adapter."""

from datetime import timedelta

import pytest

from app.store.common import utcnow
from app.sync import jobs, runs
from app.sync.engine import run_sync
from app.sync.runs import LOCK_NAME, lease_holder

from .helpers import event, send

pytestmark = pytest.mark.both_stores


@pytest.fixture
def app_config():
    # Two items a batch: five items make a run of three batches.
    return {"SYNC_BATCH_SIZE": 2}


def test_a_run_whose_heartbeat_finds_the_lease_lost_claims_no_further_batch(
        app, client, auth, store):
    send(client, auth, [event(f"e{n}") for n in range(5)])
    beats = []

    def heartbeat():
        beats.append(dict(store.queue_counts()))
        return False

    logs = run_sync(store, app.config, heartbeat=heartbeat)
    assert [log["itemCount"] for log in logs] == [2]
    assert beats == [{"done": 2, "pending": 3}]
    assert store.queue_counts() == {"done": 2, "pending": 3}
    # While the lease holds, the run goes on to the end.
    logs = run_sync(store, app.config, heartbeat=lambda: True)
    assert [log["itemCount"] for log in logs] == [2, 1]
    assert store.queue_counts() == {"done": 5}


def test_a_run_that_loses_its_lease_stops_and_is_recorded_as_such(app, client, auth, store):
    send(client, auth, [event(f"e{n}") for n in range(5)])
    run, _holder = jobs.begin_run(store, app.config, "manual", requested_by="test")
    noted = run.record.add

    def noted_then_taken_over(batch_log):
        # After its first batch, the run stalls past its lease and another run takes it.
        noted(batch_log)
        now = utcnow()
        store.release_lock(LOCK_NAME, run.run_id)
        assert store.acquire_lock(LOCK_NAME, "another-run", now + timedelta(minutes=1), now)

    run.record.add = noted_then_taken_over
    logs = run.execute()
    assert [log["itemCount"] for log in logs] == [2]
    assert store.queue_counts() == {"done": 2, "pending": 3}
    seen = runs.view(store, run.run_id)
    assert seen["state"] == "abandoned" and seen["error"] == jobs.LEASE_LOST
    assert seen["progress"]["itemCount"] == 2 and seen["summary"]["itemCount"] == 2
    # The run let go of nothing it did not hold: the lease is still the other run's.
    assert lease_holder(store) == "another-run"
