"""Sync runs as the store records them, so that any process can say how any run is going.

A run is recorded before it takes the sync lease, and the lease's owner is the run's id. The
process running it (jobs.py) notes its progress as its batches go (the first at once, then at
most every PROGRESS_EVERY_SECONDS) and its outcome at the end, before it lets the lease go. So
a record that still says "running" while the lease is gone or held by another run belongs to a
run that stopped without finishing: its process died, or stalled past SYNC_LEASE_SECONDS (after
which another run may take over). It is reported `abandoned`; whatever its batches did not
commit is claimed again by the next run.

Counts are kept per app as well as in all: each batch log's per-item results carry their appId,
and a batch is split into one log per app counted by the engine's own rule (tally), so an
API caller is told its own app's totals and errors only, and the console every app's.
"""

import os
import socket
import time
from collections import Counter, defaultdict
from datetime import datetime

from ..store.common import utcnow, uuid7
from .outcomes import COUNT_KEYS, summarize_run, tally

LOCK_NAME = "sync-run"
# Failed and dead items listed per app in a run's record; the counts stay exact beyond it. A
# run that kills thousands of items has one cause, and the console's error list has them all.
MAX_ERRORS_PER_APP = 1000
# How often a run's record is told its progress at most (its first batch always is): the
# console polls every second, and a note after every batch cost about 0.2 ms (some 3 % of a
# 200-item batch's time in the drain).
PROGRESS_EVERY_SECONDS = 0.25
ABANDONED = ("it stopped without finishing: its process ended or stalled past its lease "
             "(SYNC_LEASE_SECONDS)")


def _counts(source=None):
    return {key: (source or {}).get(key, 0) for key in COUNT_KEYS}


def _add(totals, counts):
    for key in COUNT_KEYS:
        totals[key] += counts[key]


def split_by_app(batch_log):
    """A batch log's share of each app: [{appId, status, counts…, errors}], in order of first
    appearance. Counted by the engine's tally, the rule every batch log is counted by."""
    app_ids = {result["appId"] for result in batch_log.get("results") or []}
    if len(app_ids) == 1:
        # Nearly every batch: one app's items, whose counts are the batch's own.
        return [{"appId": app_ids.pop(), "status": batch_log["status"], **_counts(batch_log),
                 "errors": list(batch_log.get("errors") or [])}]
    results = defaultdict(list)
    for result in batch_log.get("results") or []:
        results[result["appId"]].append(result)
    parts = []
    for app_id, own in results.items():
        errors = [e for e in batch_log.get("errors") or [] if e.get("appId") == app_id]
        parts.append({**tally(Counter(r["status"] for r in own), len(own)), "errors": errors,
                      "appId": app_id})
    return parts


class RunRecord:
    """A run's record in the store, and its progress as the run goes."""

    def __init__(self, store, doc):
        self.store = store
        self.doc = doc
        self.run_id = doc["runId"]
        self.source = doc["source"]
        self.totals = dict(_counts(), batches=0)
        self.per_app = {}
        self.batches = []
        self.errors_kept = Counter()
        self.noted_at = None

    @classmethod
    def create(cls, store, source, requested_by=None):
        """Record a new run (state running) and return it."""
        now = utcnow()
        doc = {"runId": uuid7(), "source": source, "requestedBy": requested_by,
               "host": socket.gethostname(), "pid": os.getpid(), "state": "running",
               "startedAt": now, "heartbeatAt": now, "endedAt": None, "error": None,
               "progress": None, "batches": None}
        store.add_sync_run(doc)
        return cls(store, doc)

    def discard(self):
        """Forget the record of a run that did not get the lease."""
        self.store.delete_sync_run(self.run_id)

    def add(self, batch_log):
        """Count one batch of the run, and note the progress in the record unless it was
        noted less than PROGRESS_EVERY_SECONDS ago."""
        parts = split_by_app(batch_log)
        self.totals["batches"] += 1
        _add(self.totals, _counts(batch_log))
        for part in parts:
            app = self.per_app.setdefault(part["appId"], dict(_counts(), batches=0))
            app["batches"] += 1
            _add(app, part)
            room = MAX_ERRORS_PER_APP - self.errors_kept[part["appId"]]
            part["errors"] = part["errors"][:max(room, 0)]
            self.errors_kept[part["appId"]] += len(part["errors"])
        self.batches.append({
            "batchId": batch_log["batchId"], "source": batch_log["source"],
            "status": batch_log["status"], **_counts(batch_log),
            # ISO text inside the record, so both stores keep and give back the same values.
            "startTime": batch_log["startTime"].isoformat(),
            "endTime": batch_log["endTime"].isoformat(), "apps": parts,
        })
        now = time.monotonic()
        if self.noted_at is None or now - self.noted_at >= PROGRESS_EVERY_SECONDS:
            self.noted_at = now
            self.store.update_sync_run(self.run_id, {"heartbeatAt": utcnow(),
                                                     "progress": self.progress()},
                                       durable=False)

    def progress(self):
        """Batches and counts so far, in all and per app."""
        return dict(self.totals, apps=[dict(counts, appId=app_id)
                                       for app_id, counts in self.per_app.items()])

    def finish(self, state, error=None):
        """Record how the run ended, with its batches."""
        now = utcnow()
        self.store.update_sync_run(self.run_id, {
            "state": state, "error": error, "endedAt": now, "heartbeatAt": now,
            "progress": self.progress(), "batches": self.batches})


def lease_holder(store, now=None):
    """The id of the run holding the sync lease, or None when nobody holds a live one."""
    lock = store.get_lock(LOCK_NAME)
    if lock is None or lock["until"] < (now or utcnow()):
        return None
    return lock["owner"]


def view(store, run_id, app_id=None):
    """A run as a caller sees it, or None when unknown: its state, progress and, once it has
    ended, its summary; with `app_id`, that app's counts and errors only."""
    # The lease first: a run writes its outcome before it lets the lease go, so a record read
    # after the lease can only be older than the end if the lease still named it.
    holder = lease_holder(store)
    doc = store.get_sync_run(run_id)
    if doc is None:
        return None
    state, error = doc["state"], doc.get("error")
    if state == "running" and holder != run_id:
        state, error = "abandoned", ABANDONED
    progress = doc.get("progress") or dict(_counts(), batches=0, apps=[])
    if app_id is not None:
        mine = next((a for a in progress.get("apps") or [] if a["appId"] == app_id), None)
        progress = dict(_counts(mine), batches=(mine or {}).get("batches", 0))
    return {
        "runId": doc["runId"], "state": state, "source": doc["source"],
        "requestedBy": doc.get("requestedBy"), "startedAt": doc["startedAt"],
        "heartbeatAt": doc.get("heartbeatAt"), "endedAt": doc.get("endedAt"), "error": error,
        "progress": {key: progress.get(key, 0) for key in ("batches", *COUNT_KEYS)},
        "summary": summary(doc, app_id) if doc.get("endedAt") else None,
    }


def summary(doc, app_id=None):
    """An ended run's summary (the SyncRunSchema fields), of one app or of all."""
    logs = []
    for batch in doc.get("batches") or []:
        if app_id is None:
            part = dict(batch, errors=[e for a in batch["apps"] for e in a["errors"]])
        else:
            part = next((a for a in batch["apps"] if a["appId"] == app_id), None)
            if part is None:
                continue
        logs.append(dict(part, batchId=batch["batchId"], source=batch["source"],
                         startTime=datetime.fromisoformat(batch["startTime"]),
                         endTime=datetime.fromisoformat(batch["endTime"])))
    result = summarize_run([{k: v for k, v in log.items() if k != "apps"} for log in logs])
    started, ended = doc["startedAt"], doc["endedAt"]
    result.update(startTime=started, endTime=ended, seconds=(ended - started).total_seconds())
    return result
