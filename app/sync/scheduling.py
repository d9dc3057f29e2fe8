"""Running the sync engine on a timer and soon after each accepted batch (flask-apscheduler)."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app

from ..extensions import scheduler
from ..store.common import utcnow

log = logging.getLogger("prepmate.sync")

SCHEDULED_JOB_ID = "scheduled-sync"
EAGER_JOB_ID = "eager-sync"
# The job function, by reference, so the scheduler can run it in its own thread.
JOB_FUNC = "app.sync.jobs:run_scheduled"


def scheduler_enabled(app=None):
    """True when this process schedules syncs (ENABLE_SCHEDULED_SYNC and the scheduler started)."""
    app = app or current_app
    return bool(app.config.get("ENABLE_SCHEDULED_SYNC")) and scheduler.running


def sync_soon():
    """Ask for a sync a few seconds from now; calls within that delay share one run (debounce)."""
    if not scheduler_enabled():
        return
    if scheduler.get_job(EAGER_JOB_ID) is not None:
        return
    delay = float(current_app.config.get("SYNC_EAGER_DELAY_SECONDS", 2.0))
    try:
        scheduler.add_job(
            id=EAGER_JOB_ID, func=JOB_FUNC, kwargs={"source": "scheduled", "eager": True},
            trigger="date", run_date=utcnow() + timedelta(seconds=delay),
            replace_existing=False, misfire_grace_time=60,
        )
    except Exception:  # a concurrent request added it first (ConflictingIdError)
        log.debug("eager sync already scheduled")


def next_run_time(app=None):
    """When the timed sync runs next in this process, or None."""
    if not scheduler_enabled(app):
        return None
    job = scheduler.get_job(SCHEDULED_JOB_ID)
    return job.next_run_time if job else None


@dataclass(frozen=True)
class SchedulerState:
    """What the services show of this process's scheduler: whether it runs, and when next."""

    running: bool = False
    next_run_time: datetime | None = None


def scheduler_state(app=None):
    """This process's SchedulerState, read once, for the services to be given."""
    return SchedulerState(running=scheduler_enabled(app), next_run_time=next_run_time(app))
