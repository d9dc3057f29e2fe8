"""The sync engine: claim due queue items under a lease, apply them, write one log per batch.

`run_sync` loops over batches until the queue holds nothing due or the run's time budget is
spent. Each batch is one unit of work in the store (one transaction on SQLite): the claim, the
telemetry and record writes, the items' outcomes and the batch log commit together, so a killed
worker leaves its items to be claimed again once their lease runs out, and nothing is applied
twice.

Nearly every batch is events with no seq, none of them stored before. A store that can take a
unit back (SQLite) offers the optional capability ApplyNewEvents (store/port/sync.py): it
applies such a batch whole, in SQL, and the engine only writes its log. Any other batch, one
the capability declines or fails on for any reason, and every batch on a store without it,
goes item by item as below (the portable path), which finds the item it failed on. Both paths
leave the same telemetry, queue and logs (tests/sync/test_fast_path.py).

The pieces: settings.py (settings, backoff), claims.py (order, client sequences), events.py
and record_apply.py (applying events and records), outcomes.py (each item's outcome, the batch
log and the one success/partial/error rule); this module runs them.

Per item:
- an event goes into telemetry once per (appId, eventId): the same payload again is a duplicate
  (done), another payload opens an event conflict and both payloads are kept (status conflict);
- a record edit whose baseVersion is the server's version applies as the next version; an older
  baseVersion is settled by its strategy (see conflicts.py); a newer one can never apply (dead);
- an item with clientId and seq applies only after the client's previous seq: at or below the
  last applied seq it is a duplicate; after a gap it is held (pending, retried every
  SEQ_RETRY_SECONDS) until the gap fills or SYNC_SEQ_HOLD_SECONDS have passed since it arrived.
  The hold is bounded because a missing seq may never come (the client lost it, or ingest
  rejected it): after the hold the item applies and the client's sequence moves past the gap;
- a temporary store error retries with exponential backoff and jitter, SYNC_MAX_RETRIES times,
  then the item is dead; a permanent error (an item that can never apply, data the store
  refuses) is dead at once, and so is anything unexpected, which would break on it every time.

One item never stops the others: whatever goes wrong with it, from reading its stored row back
in the claim to applying it, storing its event or writing its outcome, settles that item alone
(with the reason, in the queue and the batch log) and the batch goes on. The bulk writes (the
batch's events, the items' outcomes) are split in halves until the item a failing write fails
on is found. Only a store outage (StoreUnavailable) in a bulk write fails the whole batch, which
then retries with backoff; anything else that breaks a batch as a whole does the same, so a run
never fails for one item's sake.
"""

import logging
import time
from datetime import timedelta

from ..accounts import audit
from ..store.common import utcnow
from ..store.errors import StoreUnavailable
from ..store.port.sync import ApplyNewEvents
from .claims import ClientSequences, application_order, check_readable, client_group
from .events import EventWriter
from .identity import apply_identity, is_identity_item
from .outcomes import Outcome, settle_failure, write_outcomes
from .people import count_new_events
from .record_apply import apply_record
from .settings import SEQ_RETRY_SECONDS, SyncSettings

log = logging.getLogger("prepmate.sync")


def run_sync(store, settings, source="manual", *, clock=utcnow, heartbeat=None, progress=None):
    """Apply due queue items until none is left or the run's budget is spent.

    Returns the batch logs written, one per claimed batch (one empty log when nothing was due,
    so every run leaves a trace). `progress`, when given, is called with each batch log as it
    is written (the run's record follows the run there). `heartbeat`, when given, is called
    after each batch (the scheduler renews its cross-process lease there); the run stops when
    it returns False.
    """
    config = SyncSettings.from_settings(settings)
    deadline = time.monotonic() + config.budget
    started = clock()
    logs = []
    while True:
        batch_log = sync_batch(store, config, source, clock)
        if batch_log is None:
            break
        logs.append(batch_log)
        if progress is not None:
            progress(batch_log)
        if heartbeat is not None and heartbeat() is False:
            log.warning("sync run stopped: its lease was lost")
            break
        if time.monotonic() >= deadline:
            log.info("sync run stopped at its %.0f s budget", config.budget)
            break
    if not logs:
        # The whole run, waits for the store's lock included, is what the empty log spans.
        empty = Outcome(config, started, []).batch_log(source, clock())
        with store.unit_of_work(durable=False):
            store.add_sync_log(empty)
        logs.append(empty)
        if progress is not None:
            progress(empty)
    return logs


def sync_batch(store, config, source, clock=utcnow):
    """Claim and apply one batch; its batch log, or None when nothing was due."""
    apply_new_events = store.capability(ApplyNewEvents)
    if apply_new_events is None:
        return sync_items(store, config, source, clock)
    started = clock()
    try:
        with store.unit_of_work(durable=False):
            applied = apply_new_events(started, config.batch_size)
            if applied:
                count_new_events(store, applied, started)
                outcome = Outcome(config, started, applied)
                outcome.applied_by_store()
                batch_log = outcome.batch_log(source, clock())
                store.add_sync_log(batch_log)
    except Exception as exc:
        # The unit kept nothing of it. A store outage, or an item the store cannot take (a
        # stored item it cannot take apart): item by item records the retries, or finds it.
        log.warning("sync batch of new events failed, going item by item: %r", exc)
        applied = None
    if applied == []:
        return None
    if applied:
        log.debug("sync batch %s: %d new events applied", batch_log["batchId"], len(applied))
        return batch_log
    return sync_items(store, config, source, clock)


def sync_items(store, config, source, clock=utcnow):
    """Claim and apply one batch item by item; its batch log, or None when nothing was due."""
    started = clock()
    items = []
    try:
        with store.unit_of_work(durable=False):
            items = store.claim_items(started, started + config.lease, config.batch_size)
            if not items:
                return None
            outcome = apply_items(store, config, items, started)
            ended = clock()
            write_outcomes(store, outcome, outcome.updates, ended)
            batch_log = outcome.batch_log(source, ended)
            store.add_sync_log(batch_log)
    except Exception as exc:
        if not items:
            raise
        # The unit did not commit: every item of the batch retries later, with backoff.
        if isinstance(exc, StoreUnavailable):
            log.warning("sync batch of %d items failed: %s", len(items), exc)
            reason = f"store unavailable: {exc}"
        else:
            # Each item's own failures are settled one by one (apply_items): this one is the
            # batch's, and it must not stop the run.
            log.exception("sync batch of %d items failed", len(items))
            reason = f"sync batch failed: {exc!r}"
        ended = clock()
        outcome = Outcome(config, ended, items)
        for item in items:
            outcome.retry(item, reason)
        batch_log = outcome.batch_log(source, ended)
        with store.unit_of_work(durable=False):
            write_outcomes(store, outcome, outcome.updates, ended)
            store.add_sync_log(batch_log)
        return batch_log
    for actor, action, target, details in outcome.audits:
        audit.record(store, actor, action, target, **details)
    log.debug("sync batch %s: %d items, %d applied", batch_log["batchId"],
              batch_log["itemCount"], batch_log["successCount"])
    return batch_log


def apply_items(store, config, items, now):
    """Apply a claimed batch inside the caller's unit of work; returns its Outcome.

    Whatever goes wrong with one item (reading it back, applying it, storing its event or its
    outcome) settles that item alone (settle_failure); the others go on.
    """
    outcome = Outcome(config, now, items)
    readable = []
    for item in items:
        try:
            check_readable(item)
        except Exception as exc:
            settle_failure(outcome, item, exc, "stored item cannot be read")
        else:
            readable.append(item)
    sequences = ClientSequences(store, readable, config.seq_hold)
    events = EventWriter(store, readable, now)
    for item in application_order(readable):
        verdict = sequences.check(item, now) if sequences.active else "apply"
        if verdict == "hold":
            last = sequences.last[client_group(item)]
            until = min(item["createdAt"] + config.seq_hold,
                        now + timedelta(seconds=SEQ_RETRY_SECONDS))
            outcome.hold(item, until, f"waiting for seq {last + 1} of client {item['clientId']}")
            continue
        if verdict == "duplicate":
            outcome.duplicate(item)
            continue
        try:
            if item["itemType"] == "event":
                events.apply(item, outcome)
            elif is_identity_item(item):
                with store.savepoint():
                    apply_identity(store, item, now, outcome)
            else:
                with store.savepoint():
                    apply_record(store, config, item, now, outcome)
        except Exception as exc:
            if settle_failure(outcome, item, exc) == "retry":
                continue
        if sequences.active:
            sequences.passed(item)
    events.flush(outcome, sequences)
    sequences.save(store)
    return outcome

