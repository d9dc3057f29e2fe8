"""What became of a batch's items: their queue updates, the batch log, and the one rule for a
batch's or a run's status (success, partial or error) and totals."""

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from ..store.common import uuid7
from ..store.errors import DataRejected, StoreError, StoreUnavailable
from .settings import PermanentError, SyncSettings, backoff_delay

log = logging.getLogger("prepmate.sync")

COUNT_KEYS = ("itemCount", "successCount", "failureCount", "duplicateCount", "conflictCount")


def run_status(failures, total):
    """The one rule for a batch's or a run's status: success, partial or error."""
    if not failures:
        return "success"
    return "error" if failures == total else "partial"


def tally(results, total):
    """A batch log's counts and status from its items' results (a mapping of result to count:
    applied, duplicate, conflict, held, retry, dead)."""
    failures = results["retry"] + results["dead"]
    return {"itemCount": total, "successCount": results["applied"], "failureCount": failures,
            "duplicateCount": results["duplicate"], "conflictCount": results["conflict"],
            "status": run_status(failures, total)}


def summarize_run(logs, app_id=None):
    """A run's totals over its batch logs; with `app_id`, only that app's errors are listed."""
    totals = {key: sum(log[key] for log in logs) for key in COUNT_KEYS}
    status = run_status(totals["failureCount"], totals["itemCount"])
    errors = [error for log in logs for error in log.get("errors") or []
              if app_id is None or error.get("appId") == app_id]
    return dict(totals, status=status,
                startTime=logs[0]["startTime"] if logs else None,
                endTime=logs[-1]["endTime"] if logs else None,
                batches=[{k: v for k, v in log.items() if k not in ("results", "errors")}
                         for log in logs],
                errors=errors)


def write_outcomes(store, outcome, updates, now):
    """Store the items' outcomes (`updates`, outcome.updates or a part of them) in the caller's
    unit. Updates the store refuses are split in halves until the refused one is found, whose
    item then fails with the reason; a store outage still fails the whole batch."""
    try:
        with store.savepoint():
            store.finish_items(updates, now)
        return
    except StoreUnavailable:
        raise
    except Exception as exc:
        if len(updates) > 1:
            half = len(updates) // 2
            write_outcomes(store, outcome, updates[:half], now)
            write_outcomes(store, outcome, updates[half:], now)
            return
        refused = exc
    item = outcome.item(updates[0]["id"])
    settle_failure(outcome, item, refused, "its outcome cannot be stored")
    try:
        with store.savepoint():
            store.finish_items([outcome.update(item)], now)
    except StoreUnavailable:
        raise
    except Exception as exc:
        # Left as claimed: the item is claimed again, by the next run or once its lease ends.
        log.error("item %s of %s: its outcome cannot be stored: %r", item["itemId"],
                  item["appId"], exc)


def settle_failure(outcome, item, exc, step=None):
    """Settle an item that raised while `step` was done (None: while it was applied): a store
    error retries it, with backoff; an item that can never apply, or data the store refused,
    is dead at once; anything else would break on it every time, so it is dead too. Returns
    the item's result: "retry" or "dead"."""
    step = step or "cannot apply"
    if isinstance(exc, PermanentError):
        # Its own words say why it can never apply.
        outcome.dead(item, str(exc) if step == "cannot apply" else f"{step}: {exc}")
    elif isinstance(exc, DataRejected):
        outcome.dead(item, f"{step}: {exc}")
    elif isinstance(exc, StoreError):
        # Unreachable store, or (MongoDB) another worker's write got in first: try again.
        outcome.retry(item, f"{step}: {exc}")
    else:
        log.error("item %s of %s: %s", item["itemId"], item["appId"], step, exc_info=exc)
        outcome.dead(item, f"{step}: {exc!r}")
    return outcome.result(item)


def _storable(reason, limit=1000):
    """A reason as text every store keeps whole: at most `limit` characters, and no lone
    surrogate (which a UTF-8 store cannot encode)."""
    if len(reason) > limit:
        reason = reason[:limit - 1] + "…"
    return reason.encode("utf-8", "backslashreplace").decode("utf-8")


@dataclass
class Outcome:
    """What became of each item of a batch: the queue updates, the counts and the log.

    An item settled once may be settled again by a later step of the batch (its event or its
    outcome could not be stored after all): the later outcome replaces the earlier one, in the
    same place in the log.
    """

    config: SyncSettings
    started: object
    items: list
    updates: list = field(default_factory=list)
    results: list = field(default_factory=list)
    errors: dict = field(default_factory=dict)
    audits: list = field(default_factory=list)
    counts: dict = field(default_factory=lambda: defaultdict(int))
    positions: dict = field(default_factory=dict)

    def _finish(self, item, result, status, next_at=None, error=None, attempts=None):
        if error is not None:
            error = _storable(error)
        update = {
            "id": item["id"], "status": status, "nextAttemptAt": next_at, "lastError": error,
            "attempts": item["attempts"] if attempts is None else attempts,
            "leaseOwner": item.get("leaseOwner"),
        }
        position = self.positions.get(item["id"])
        if position is None:
            position = self.positions[item["id"]] = len(self.results)
            self.updates.append(update)
            self.results.append(None)
        else:
            self.counts[self.results[position]["status"]] -= 1
            self.updates[position] = update
            self.errors.pop(position, None)
        self.results[position] = {"index": position, "itemId": item["itemId"],
                                  "appId": item["appId"], "status": result}
        self.counts[result] += 1
        if error and status in ("failed", "dead"):
            self.errors[position] = {"itemId": item["itemId"], "appId": item["appId"],
                                     "status": status, "reason": error}

    def item(self, item_id):
        """The claimed item with this queue id."""
        return next(item for item in self.items if item["id"] == item_id)

    def update(self, item):
        """The queue update an item's outcome makes."""
        return self.updates[self.positions[item["id"]]]

    def result(self, item):
        """An item's result: applied, duplicate, conflict, held, retry or dead."""
        return self.results[self.positions[item["id"]]]["status"]

    def applied(self, item):
        self._finish(item, "applied", "done")

    def applied_by_store(self):
        """Every item, an (appId, itemId) pair, was applied and marked done by the store
        (the ApplyNewEvents capability): only the results are left to note."""
        self.results = [{"index": index, "itemId": item_id, "appId": app_id, "status": "applied"}
                        for index, (app_id, item_id) in enumerate(self.items)]
        self.counts["applied"] = len(self.items)

    def duplicate(self, item):
        self._finish(item, "duplicate", "done")

    def conflict(self, item, reason):
        self._finish(item, "conflict", "conflict", error=reason)

    def dead(self, item, reason):
        self._finish(item, "dead", "dead", error=reason)

    def hold(self, item, until, reason):
        # A held item was not attempted: its claim does not count as an attempt.
        self._finish(item, "held", "pending", next_at=until, error=reason,
                     attempts=item["attempts"] - 1)

    def retry(self, item, reason):
        attempts = item["attempts"]
        if attempts > self.config.max_retries:
            self.dead(item, f"gave up after {attempts} attempts: {reason}")
            return
        delay = backoff_delay(attempts, self.config.backoff_base, self.config.backoff_max)
        self._finish(item, "retry", "failed", next_at=self.started + timedelta(seconds=delay),
                     error=reason)

    def batch_log(self, source, ended):
        return {
            "batchId": uuid7(), "appId": None, "userId": None, "clientId": None,
            "source": source, **tally(self.counts, len(self.items)), "rejectedCount": 0,
            "startTime": self.started, "endTime": ended,
            "errors": [self.errors[position] for position in sorted(self.errors)],
            "results": self.results,
        }

