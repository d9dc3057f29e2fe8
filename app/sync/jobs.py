"""Sync runs under the cross-process lease: recorded, run here or in the background, and the
scheduler's wrapper around them (an app context, one run at a time across processes)."""

import logging
import os
import threading
from datetime import timedelta

import click

from ..extensions import scheduler, store
from ..store import StoreUnavailable
from ..store.common import utcnow
from .engine import run_sync
from .runs import LOCK_NAME, RunRecord, lease_holder
from .scheduling import JOB_FUNC, SCHEDULED_JOB_ID, sync_soon

log = logging.getLogger("prepmate.scheduler")

LEASE_LOST = "its lease ran out (no heartbeat for SYNC_LEASE_SECONDS) and another run took over"


class LeasedRun:
    """A recorded run holding the sync lease: `execute` runs it to its end, records how it
    ended, then lets the lease go."""

    def __init__(self, app, the_store, record):
        self.app = app
        self.store = the_store
        self.record = record
        self.run_id = record.run_id
        self.lease = timedelta(seconds=int(app.config["SYNC_LEASE_SECONDS"]))
        self.lease_lost = False
        self.finished = threading.Event()

    def renew(self):
        """The heartbeat after every batch: a run longer than the lease keeps it."""
        now = utcnow()
        held = self.store.acquire_lock(LOCK_NAME, self.run_id, now + self.lease, now)
        self.lease_lost = not held
        return held

    def execute(self):
        """Run the sync; returns its batch logs (the record has the run's summary)."""
        try:
            return self._sync()
        finally:
            try:
                self.store.release_lock(LOCK_NAME, self.run_id)
            finally:
                self.finished.set()

    def _sync(self):
        try:
            logs = run_sync(self.store, self.app.config, source=self.record.source,
                            heartbeat=self.renew, progress=self.record.add)
        except Exception as exc:
            self.record.finish("error", str(exc) or type(exc).__name__)
            raise
        if self.lease_lost:
            self.record.finish("abandoned", LEASE_LOST)
        else:
            self.record.finish("done")
        prune_if_due(self.store, self.app.config)
        return logs


def begin_run(app, source, requested_by=None):
    """Record a run and take the sync lease for it.

    Returns (the run, None), or (None, the id of the run holding the lease) when another run,
    here or in another process, is going. The record is made first, so the lease never names a
    run that has none. A run that ends between our attempt and our look at the lease is no
    reason to refuse: we try once more (and at worst answer None for the holder).
    """
    the_store = store.get(app)
    lease = timedelta(seconds=int(app.config["SYNC_LEASE_SECONDS"]))
    holder = None
    for _attempt in range(2):
        record = RunRecord.create(the_store, source, requested_by)
        now = utcnow()
        if the_store.acquire_lock(LOCK_NAME, record.run_id, now + lease, now):
            return LeasedRun(app, the_store, record), None
        record.discard()
        holder = lease_holder(the_store)
        if holder is not None:
            break
    log.debug("another run is syncing; not starting one")
    return None, holder


def run_exclusive(app, source, requested_by=None):
    """Run a sync here and now under the lease, so N workers or hosts run one at a time.

    Returns the run's batch logs, or None when another run (here or elsewhere) holds the lease.
    """
    run, _holder = begin_run(app, source, requested_by)
    return None if run is None else run.execute()


def start_in_background(app, source, requested_by=None, on_done=None):
    """Start a run on a thread of this process and return at once: (the run, None), or
    (None, the id of the run already going). `on_done(run)` is called once it has ended well."""
    run, holder = begin_run(app, source, requested_by)
    if run is not None:
        thread = threading.Thread(target=_run_in_background, args=(run, on_done), daemon=True,
                                  name=f"sync-run-{run.run_id[-8:]}")
        thread.start()
    return run, holder


def _run_in_background(run, on_done):
    with run.app.app_context():
        try:
            run.execute()
            if on_done is not None:
                on_done(run)
        except StoreUnavailable as exc:
            log.warning("sync run %s stopped: %s", run.run_id, exc)
        except Exception:
            log.exception("sync run %s failed", run.run_id)


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
            if run_exclusive(app, source, requested_by="scheduler") is None and eager:
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
