"""The sync engine's Flask glue: runs on a timer and soon after each accepted batch
(flask-apscheduler), and runs started for a request or a command, each given the app's store,
settings and context."""

import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta

import click
from flask import current_app

from ..extensions import scheduler, store
from ..privacy import erasure
from ..store.common import utcnow
from . import jobs

log = logging.getLogger("prepmate.sync")
# The scheduler's own runs log here, as they always have.
scheduler_log = logging.getLogger("prepmate.scheduler")

SCHEDULED_JOB_ID = "scheduled-sync"
EAGER_JOB_ID = "eager-sync"
# The job function, by reference, so the scheduler can run it in its own thread.
JOB_FUNC = "app.sync.scheduling:run_scheduled"
# Erasures (app/privacy/erasure.py): on a short interval, and soon after each request.
ERASURE_JOB_ID = "erasures"
EAGER_ERASURE_JOB_ID = "eager-erasures"
ERASURE_JOB_FUNC = "app.sync.scheduling:run_erasures"


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


def run_exclusive(app, source, requested_by=None):
    """jobs.run_exclusive with the app's store and settings: a run here and now, or None."""
    return jobs.run_exclusive(store.get(app), app.config, source, requested_by)


def start_in_background(app, source, requested_by=None, on_done=None):
    """jobs.run_in_background with the app's store and settings, the thread in its context."""
    return jobs.run_in_background(store.get(app), app.config, source, requested_by,
                                  on_done=on_done, context=app.app_context)


def run_scheduled(source="scheduled", eager=False):
    """The job the scheduler runs: run_exclusive inside the app's context.

    An eager run that finds another run in progress asks again a little later: the other run
    may have made its last claim before the batch that asked for this one arrived.
    """
    app = scheduler.app
    with app.app_context():
        try:
            if run_exclusive(app, source, requested_by="scheduler") is None and eager:
                sync_soon()
        except Exception:
            scheduler_log.exception("scheduled sync failed")


def _serving_process(app):
    """False where no sync may be scheduled: the reloader's parent and non-serving commands."""
    command = _cli_command()
    if command not in (None, "run"):
        return False
    reloader_parent = app.debug and os.environ.get("WERKZEUG_RUN_MAIN") != "true"
    return not (command == "run" and reloader_parent)


def _cli_command():
    ctx = click.get_current_context(silent=True)
    return ctx.command.name if ctx is not None else None


def erase_soon():
    """Ask for the erasures to run now, in the background (calls meanwhile share one run)."""
    if not scheduler_enabled() or scheduler.get_job(EAGER_ERASURE_JOB_ID) is not None:
        return
    try:
        scheduler.add_job(id=EAGER_ERASURE_JOB_ID, func=ERASURE_JOB_FUNC, trigger="date",
                          run_date=utcnow(), replace_existing=False, misfire_grace_time=60)
    except Exception:  # a concurrent request added it first (ConflictingIdError)
        log.debug("erasures already scheduled")


def run_erasures():
    """The job the scheduler runs: erasure.run_deletions inside the app's context."""
    app = scheduler.app
    with app.app_context():
        try:
            erasure.run_deletions(store.get(app), app.config,
                                  budget=float(app.config["ERASURE_RUN_BUDGET_SECONDS"]))
        except Exception:
            scheduler_log.exception("scheduled erasures failed")


def reapply_erasures(app):
    """At start: erase again the people a restored backup brought back (the ledger's entries
    the store does not record); returns the deletions made."""
    try:
        made = erasure.reapply_erasures(store.get(app), app.config)
    except erasure.ErasureLedgerError as exc:
        scheduler_log.error("erasures not re-applied: %s", exc)
        return []
    if made:
        scheduler_log.warning("%d erasures re-applied from the erasure ledger (a restored "
                              "backup held their people): they run in the background", len(made))
    return made


def start_scheduler(app):
    """Start the timed sync in this process when enabled; True when it started."""
    if not app.config.get("ENABLE_SCHEDULED_SYNC") or not _serving_process(app):
        return False
    if scheduler.running:
        return True
    app.config.setdefault("SCHEDULER_API_ENABLED", False)
    scheduler.init_app(app)
    scheduler.add_job(
        id=SCHEDULED_JOB_ID, func=JOB_FUNC, kwargs={"source": "scheduled"}, trigger="interval",
        minutes=float(app.config["SYNC_INTERVAL_MINUTES"]), max_instances=1, coalesce=True,
        replace_existing=True, next_run_time=utcnow() + timedelta(seconds=5),
    )
    scheduler.add_job(
        id=ERASURE_JOB_ID, func=ERASURE_JOB_FUNC, trigger="interval",
        seconds=float(app.config["ERASURE_INTERVAL_SECONDS"]), max_instances=1, coalesce=True,
        replace_existing=True, next_run_time=utcnow() + timedelta(seconds=5),
    )
    scheduler.start()
    scheduler_log.info("scheduled sync every %s minutes", app.config["SYNC_INTERVAL_MINUTES"])
    return True
