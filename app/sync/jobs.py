"""The scheduler wrapper around run_sync: an app context, one run per process and per store."""

import logging
import os
import socket
import threading
import uuid
from datetime import timedelta

import click

from ..extensions import scheduler, store
from ..store.common import utcnow
from .scheduling import JOB_FUNC, SCHEDULED_JOB_ID, sync_soon

log = logging.getLogger("prepmate.scheduler")

LOCK_NAME = "sync-run"
_in_process = threading.Lock()


def lock_owner():
    """This process's name in the cross-process sync lease."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def run_exclusive(app, source):
    """run_sync under the store's lease, so N workers or hosts run one sync at a time.

    Returns the run's batch logs, or None when another run (here or elsewhere) holds the lease.
    """
    from .engine import run_sync

    if not _in_process.acquire(blocking=False):
        return None
    try:
        the_store = store.get(app)
        owner = lock_owner()
        lease = timedelta(seconds=int(app.config["SYNC_LEASE_SECONDS"]))
        now = utcnow()
        if not the_store.acquire_lock(LOCK_NAME, owner, now + lease, now):
            log.debug("another process is syncing; skipping this run")
            return None

        def renew():
            # Renewed after every batch, so a run longer than the lease keeps it.
            now = utcnow()
            return the_store.acquire_lock(LOCK_NAME, owner, now + lease, now)

        try:
            logs = run_sync(the_store, app.config, source=source, heartbeat=renew)
            prune_if_due(the_store, app.config)
            return logs
        finally:
            the_store.release_lock(LOCK_NAME, owner)
    finally:
        _in_process.release()


PRUNE_EVERY = timedelta(hours=1)
_last_prune = {"at": None}


def prune_if_due(the_store, settings, now=None):
    """With RETENTION_DAYS set, delete what is older, at most once an hour per process."""
    days = float(settings.get("RETENTION_DAYS") or 0)
    now = now or utcnow()
    if days <= 0 or (_last_prune["at"] and now - _last_prune["at"] < PRUNE_EVERY):
        return None
    _last_prune["at"] = now
    removed = the_store.prune_expired(now - timedelta(days=days))
    log.info("retention: removed %s", removed)
    return removed


def run_scheduled(source="scheduled", eager=False):
    """The job the scheduler runs: run_exclusive inside the app's context.

    An eager run that finds another run in progress asks again a little later: the other run
    may have made its last claim before the batch that asked for this one arrived.
    """
    app = scheduler.app
    with app.app_context():
        try:
            if run_exclusive(app, source) is None and eager:
                sync_soon()
        except Exception:
            log.exception("scheduled sync failed")


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
    scheduler.start()
    log.info("scheduled sync every %s minutes", app.config["SYNC_INTERVAL_MINUTES"])
    return True
