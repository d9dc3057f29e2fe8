"""The scheduler runs erasures: right after a request (like the eager sync), and on a short
interval for those a previous run left unfinished."""

import pytest

from app.sync.scheduling import ERASURE_JOB_ID
from tests.waiting import wait_for


@pytest.fixture
def app_config():
    # Long intervals: only the eager run can finish an erasure within seconds.
    return {"ENABLE_SCHEDULED_SYNC": True, "SYNC_INTERVAL_MINUTES": 60,
            "ERASURE_INTERVAL_SECONDS": 3600}


def test_a_requested_erasure_runs_within_seconds(client, auth, store, running_scheduler):
    assert running_scheduler.get_job(ERASURE_JOB_ID) is not None
    # The timed job's first run (a few seconds after start) is kept out of the way.
    running_scheduler.pause_job(ERASURE_JOB_ID)
    answer = client.delete("/api/telemetry/people/someone", headers=auth)
    assert answer.status_code == 202

    def done():
        found = client.get(answer.headers["Location"], headers=auth).get_json()
        return found["status"] == "done"

    assert wait_for(done, 5)
