"""Sync runs under the cross-process lease: recorded, then run here or on a thread, one at a
time across processes. Given the store and the settings; scheduling.py is the Flask glue."""

import contextlib
import logging
import threading
from datetime import timedelta

from ..context import in_run
from ..store import StoreUnavailable
from ..store.common import utcnow
from .engine import run_sync
from .runs import LOCK_NAME, RunRecord, lease_holder

log = logging.getLogger("prepmate.scheduler")

LEASE_LOST = "its lease ran out (no heartbeat for SYNC_LEASE_SECONDS) and another run took over"


class LeasedRun:
    """A recorded run holding the sync lease: `execute` runs it to its end, records how it
    ended, then lets the lease go."""

    def __init__(self, the_store, settings, record):
        self.store = the_store
        self.settings = settings
        self.record = record
        self.run_id = record.run_id
        self.lease = timedelta(seconds=int(settings["SYNC_LEASE_SECONDS"]))
        self.lease_lost = False
        self.finished = threading.Event()

    def renew(self):
        """The heartbeat after every batch: a run longer than the lease keeps it."""
        now = utcnow()
        held = self.store.acquire_lock(LOCK_NAME, self.run_id, now + self.lease, now)
        self.lease_lost = not held
        return held

    def execute(self):
        """Run the sync; returns its batch logs (the record has the run's summary). Every line
        logged meanwhile, on this thread, names the run."""
        with in_run(self.run_id):
            try:
                return self._sync()
            finally:
                try:
                    self.store.release_lock(LOCK_NAME, self.run_id)
                finally:
                    self.finished.set()

    def _sync(self):
        try:
            logs = run_sync(self.store, self.settings, source=self.record.source,
                            heartbeat=self.renew, progress=self.record.add)
        except Exception as exc:
            self.record.finish("error", str(exc) or type(exc).__name__)
            raise
        if self.lease_lost:
            self.record.finish("abandoned", LEASE_LOST)
        else:
            self.record.finish("done")
        prune_if_due(self.store, self.settings)
        return logs


def begin_run(the_store, settings, source, requested_by=None):
    """Record a run and take the sync lease for it.

    Returns (the run, None), or (None, the id of the run holding the lease) when another run,
    here or in another process, is going. The record is made first, so the lease never names a
    run that has none. A run that ends between our attempt and our look at the lease is no
    reason to refuse: we try once more (and at worst answer None for the holder).
    """
    lease = timedelta(seconds=int(settings["SYNC_LEASE_SECONDS"]))
    holder = None
    for _attempt in range(2):
        record = RunRecord.create(the_store, source, requested_by)
        now = utcnow()
        if the_store.acquire_lock(LOCK_NAME, record.run_id, now + lease, now):
            return LeasedRun(the_store, settings, record), None
        record.discard()
        holder = lease_holder(the_store)
        if holder is not None:
            break
    log.debug("another run is syncing; not starting one")
    return None, holder


def run_exclusive(the_store, settings, source, requested_by=None):
    """Run a sync here and now under the lease, so N workers or hosts run one at a time.

    Returns the run's batch logs, or None when another run (here or elsewhere) holds the lease.
    """
    run, _holder = begin_run(the_store, settings, source, requested_by)
    return None if run is None else run.execute()


def run_in_background(the_store, settings, source, requested_by=None, on_done=None,
                      context=contextlib.nullcontext):
    """Start a run on a thread of this process and return at once: (the run, None), or
    (None, the id of the run already going). The thread runs inside `context()`;
    `on_done(run)` is called once the run has ended well."""
    run, holder = begin_run(the_store, settings, source, requested_by)
    if run is not None:
        thread = threading.Thread(target=_run_in_background, args=(run, on_done, context),
                                  daemon=True, name=f"sync-run-{run.run_id[-8:]}")
        thread.start()
    return run, holder


def _run_in_background(run, on_done, context):
    # A new thread starts with no context of its own: the run's id is set here, for the lines
    # logged after the run (on_done's, and how it failed) as well as during it.
    with context(), in_run(run.run_id):
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
