"""The sync engine: claim due queue items under a lease, apply them, write one log per batch.

`run_sync` loops over batches until the queue holds nothing due or the run's time budget is
spent. Each batch is one unit of work in the store (one transaction on SQLite): the claim, the
telemetry and record writes, the items' outcomes and the batch log commit together, so a killed
worker leaves its items to be claimed again once their lease runs out, and nothing is applied
twice.

Nearly every batch is events with no seq, none of them stored before. A store that can take a
unit back (SQLite) applies such a batch whole, in SQL (`apply_new_events`), and the engine only
writes its log; any other batch, or one where that fails for any reason, goes item by item as
below, which finds the item it failed on.

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
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..accounts import audit
from ..store.common import utcnow, uuid7
from ..store.errors import DataRejected, StoreError, StoreUnavailable
from .conflicts import choose_strategy, event_conflict, record_conflict
from .documents import item_time, telemetry_document, write_version
from .merge import same, three_way_merge

log = logging.getLogger("prepmate.sync")

SEQ_HOLD_SECONDS = 60.0
SEQ_RETRY_SECONDS = 2.0


class PermanentError(Exception):
    """An item that can never apply, whatever is retried."""


@dataclass(frozen=True)
class SyncSettings:
    """The engine's settings, read once per run."""

    batch_size: int
    lease: timedelta
    max_retries: int
    backoff_base: float
    backoff_max: float
    budget: float
    seq_hold: timedelta
    settings: dict

    @classmethod
    def from_settings(cls, settings):
        return cls(
            batch_size=int(settings["SYNC_BATCH_SIZE"]),
            lease=timedelta(seconds=float(settings["SYNC_LEASE_SECONDS"])),
            max_retries=int(settings["SYNC_MAX_RETRIES"]),
            backoff_base=float(settings["SYNC_BACKOFF_BASE_SECONDS"]),
            backoff_max=float(settings["SYNC_BACKOFF_MAX_SECONDS"]),
            budget=float(settings["SYNC_RUN_BUDGET_SECONDS"]),
            seq_hold=timedelta(seconds=float(settings.get("SYNC_SEQ_HOLD_SECONDS",
                                                          SEQ_HOLD_SECONDS))),
            settings=settings,
        )


def backoff_delay(attempts, base, maximum, rand=random.random):
    """Seconds before retry number `attempts`: base·2^(attempts-1), capped, half of it jittered."""
    delay = min(maximum, base * 2 ** max(0, attempts - 1))
    return delay / 2 + rand() * delay / 2


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
    started = clock()
    try:
        with store.unit_of_work(durable=False):
            applied = store.apply_new_events(started, config.batch_size)
            if applied:
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
        (apply_new_events): only the results are left to note."""
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


def _sort_within_groups(order, group_of, sort_key):
    """Reorder the members of each group among the positions the group already holds."""
    slots = defaultdict(list)
    for position, item in enumerate(order):
        group = group_of(item)
        if group is not None:
            slots[group].append(position)
    for positions in slots.values():
        if len(positions) > 1:
            members = sorted((order[p] for p in positions), key=sort_key)
            for position, member in zip(positions, members, strict=True):
                order[position] = member


def _record_group(item):
    if item["itemType"] == "event":
        return None
    return item["appId"], item["itemType"], item["itemData"].get("recordId")


def _base_version(item):
    base = item["itemData"].get("baseVersion")
    return base if isinstance(base, int) else 0


def _client_group(item):
    if item.get("clientId") is None or item.get("seq") is None:
        return None
    return item["appId"], item["clientId"]


def application_order(items):
    """Items in the order they apply: priority then arrival, except that edits of one record
    apply in the order their clients made them, and one client's items in seq order.

    Edits of one record go by baseVersion first: an edit made from version n was made after
    version n existed, whatever the clocks say (two quick saves sent in two batches can get
    skew corrections that swap their times by a few milliseconds).
    """
    order = list(items)
    if any(item["itemType"] != "event" for item in items):
        _sort_within_groups(order, _record_group,
                            lambda i: (_base_version(i), item_time(i), i.get("seq") or 0, i["id"]))
    if any(_client_group(item) is not None for item in items):
        _sort_within_groups(order, _client_group, lambda i: i["seq"])
    return order


class ClientSequences:
    """The last applied seq of each client seen in a batch, read once and saved once."""

    def __init__(self, store, items, hold):
        self.hold = hold
        clients = defaultdict(set)
        for item in items:
            key = _client_group(item)
            if key is not None:
                clients[key[0]].add(key[1])
        # A batch without sequenced items (most of them) skips the checks below.
        self.active = bool(clients)
        self.last = {}
        for app_id, client_ids in clients.items():
            for client_id, seq in store.client_seqs(app_id, client_ids).items():
                self.last[(app_id, client_id)] = seq
        self.changed = defaultdict(dict)

    def check(self, item, now):
        """What the client's sequence says of an item: "apply", "duplicate" or "hold"."""
        key = _client_group(item)
        if key is None:
            return "apply"
        last = self.last.get(key)
        if last is None or item["seq"] == last + 1:
            return "apply"
        if item["seq"] <= last:
            return "duplicate"
        if now - item["createdAt"] < self.hold:
            return "hold"
        log.warning("client %s: gave up waiting for seq %d..%d", key[1], last + 1,
                    item["seq"] - 1)
        return "apply"

    def passed(self, item):
        """Note that an item's seq is settled (applied, duplicate, conflict or dead)."""
        key = _client_group(item)
        if key is not None and item["seq"] > self.last.get(key, -1):
            self.last[key] = item["seq"]
            self.changed[key[0]][key[1]] = item["seq"]

    def reopen(self, item):
        """Take back passed(item): it failed after all and comes back, so its seq applies then
        (the items after it that applied in this batch stay applied)."""
        key = _client_group(item)
        if key is not None and item["seq"] <= self.last.get(key, -1):
            self.last[key] = item["seq"] - 1
            self.changed[key[0]][key[1]] = item["seq"] - 1

    def save(self, store):
        """Store the clients' new last seqs (inside the batch's unit)."""
        for app_id, seqs in self.changed.items():
            store.save_client_seqs(app_id, seqs)


def _check_readable(item):
    """Raise unless a claimed item could be read back whole: the fields that ordering and
    sequencing read are read before its own error handling, so they are checked first."""
    if item.get("unreadable") is not None:
        raise item["unreadable"]
    if item.get("seq") is not None and not isinstance(item["seq"], int):
        raise ValueError(f"its seq {item['seq']!r} is not an integer")
    if "createdAt" in item:  # (plain events on SQLite come without it)
        _check_time(item["createdAt"])
    if item["itemType"] != "event":
        if not isinstance(item.get("itemData"), dict):
            raise ValueError("its itemData is not an object")
        _check_time(item_time(item))


def _check_time(value):
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValueError(f"{value!r} is not a time with its UTC offset")


def apply_items(store, config, items, now):
    """Apply a claimed batch inside the caller's unit of work; returns its Outcome.

    Whatever goes wrong with one item (reading it back, applying it, storing its event or its
    outcome) settles that item alone (settle_failure); the others go on.
    """
    outcome = Outcome(config, now, items)
    readable = []
    for item in items:
        try:
            _check_readable(item)
        except Exception as exc:
            settle_failure(outcome, item, exc, "stored item cannot be read")
        else:
            readable.append(item)
    sequences = ClientSequences(store, readable, config.seq_hold)
    events = EventWriter(store, readable, now)
    for item in application_order(readable):
        verdict = sequences.check(item, now) if sequences.active else "apply"
        if verdict == "hold":
            last = sequences.last[_client_group(item)]
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


class EventWriter:
    """Events of a batch: deduplicated against telemetry in one look-up, inserted in one go.

    Claimed events carry their eventId and payloadHash but not always their payload (SQLite
    builds telemetry rows from the stored items); the rare event conflict reads both payloads.
    """

    def __init__(self, store, items, now):
        self.store = store
        self.now = now
        wanted = defaultdict(list)
        for item in items:
            if item["itemType"] == "event" and item.get("eventId") is not None:
                wanted[item["appId"]].append(item["eventId"])
        self.known = {}
        for app_id, event_ids in wanted.items():
            for event_id, payload_hash in store.event_hashes(app_id, event_ids).items():
                self.known[(app_id, event_id)] = payload_hash
        self.pending = []
        self.conflicts = []

    def apply(self, item, outcome):
        if item.get("eventId") is None:
            raise PermanentError("an event item needs an eventId")
        key = (item["appId"], item["eventId"])
        stored_hash = self.known.get(key)
        if stored_hash is None:
            self.pending.append(item)
            self.known[key] = item["payloadHash"]
            outcome.applied(item)
        elif stored_hash == item["payloadHash"]:
            outcome.duplicate(item)
        else:
            self.conflicts.append(item)
            outcome.conflict(item, f"eventId {key[1]} was already stored with another payload")

    def flush(self, outcome, sequences):
        """Insert the batch's new events, then open a conflict for each clashing payload.

        An item whose event or conflict the store cannot take fails alone, after the fact (its
        seq is then not passed if it is to come back): a refused insert is split in halves
        until the items it fails on are found. A store outage fails the whole batch instead.
        """
        if self.pending:
            self._insert(self.pending, outcome, sequences)
        for item in self.conflicts:
            try:
                with self.store.savepoint():
                    stored = self.store.get_event(item["appId"], item["eventId"])
                    if stored is None:
                        raise StoreError("the event it clashes with is not stored yet")
                    full = self.store.get_queue_item(item["appId"], item["itemId"])
                    self.store.add_conflict(event_conflict(full, stored, self.now))
            except Exception as exc:
                self._failed(item, exc, "cannot open its conflict", outcome, sequences)

    def _insert(self, items, outcome, sequences):
        try:
            with self.store.savepoint():
                self.store.insert_events(items, self.now, telemetry_document)
        except StoreUnavailable:
            raise
        except Exception as exc:
            if len(items) == 1:
                self._failed(items[0], exc, "cannot store its event", outcome, sequences)
                return
            # On MongoDB the other events of the failed insert may be stored already: storing
            # them again keeps the one there.
            half = len(items) // 2
            self._insert(items[:half], outcome, sequences)
            self._insert(items[half:], outcome, sequences)

    @staticmethod
    def _failed(item, exc, step, outcome, sequences):
        if settle_failure(outcome, item, exc, step) == "retry" and sequences.active:
            sequences.reopen(item)


def _server_clock(store, record):
    """(time, itemId) of the write that made a record's current version, for last-write-wins."""
    version = store.get_record_version(record["appId"], record["recordType"],
                                       record["recordId"], record["version"])
    item_id = (version or {}).get("itemId")
    writer = store.get_queue_item(record["appId"], item_id) if item_id else None
    if writer is not None:
        return item_time(writer), item_id
    return record["updatedAt"], item_id or ""


def apply_record(store, config, item, now, outcome):
    """Apply one record edit: at the server's version it applies, else its strategy decides."""
    data = item["itemData"]
    key = (item["appId"], item["itemType"], data["recordId"])
    if not isinstance(data.get("data"), dict) or not isinstance(data.get("baseVersion"), int):
        raise PermanentError("a record item needs `data` (an object) and `baseVersion`")
    if store.version_written_by(item["appId"], item["itemId"]) is not None:
        outcome.duplicate(item)  # applied by a run that crashed before marking it done
        return
    current = store.get_record(*key)
    server_version = current["version"] if current else 0
    base_version = data["baseVersion"]
    client = data["data"]
    user = item.get("userId")
    if base_version > server_version:
        raise PermanentError(f"baseVersion {base_version} is ahead of the server's version "
                             f"{server_version} of {key[1]} {key[2]}")
    if base_version == server_version:
        write_version(store, key, current, client, now, user, user, item["itemId"])
        outcome.applied(item)
        return
    server = current["data"]
    if same(client, server):
        # Another device already made this very edit: nothing to decide, nothing to keep twice.
        outcome.duplicate(item)
        return
    strategy = choose_strategy(config.settings, key[1], item.get("conflictResolution"))
    base_doc = store.get_record_version(*key, base_version) if base_version else None
    base = base_doc["data"] if base_doc else {}
    if strategy == "last_write_wins":
        client_clock = (item_time(item), item["itemId"])
        strategy_choice = "client" if client_clock > _server_clock(store, current) else "server"
        settled = {"client": client, "server": server}[strategy_choice]
    elif strategy == "client_wins":
        strategy_choice, settled = "client", client
    elif strategy == "server_wins":
        strategy_choice, settled = "server", server
    elif strategy == "merge":
        merged, clashes = three_way_merge(base, server, client)
        strategy_choice, settled = ("merged", merged) if not clashes else (None, None)
    else:
        strategy_choice, settled = None, None
    conflict = store.add_conflict(
        record_conflict(item, strategy, base, server, client, now, resolution=strategy_choice))
    if strategy_choice is None:
        outcome.conflict(item, f"conflict {conflict['id']} waits for a manual resolution")
        return
    version = current["version"]
    if not same(settled, server):
        version = write_version(store, key, current, settled, now, user, user,
                                item["itemId"])["version"]
    outcome.applied(item)
    outcome.audits.append((f"sync:{strategy}", "conflict.resolve", f"conflict:{conflict['id']}",
                           {"appId": key[0], "kind": "record", "itemId": item["itemId"],
                            "recordType": key[1], "recordId": key[2],
                            "resolution": strategy_choice, "version": version}))


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
