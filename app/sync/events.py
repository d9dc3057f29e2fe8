"""Event items of a batch: deduplicated against telemetry, stored in one insert, and an event
conflict opened for an eventId stored with another payload."""

from collections import defaultdict

from ..store.errors import StoreError, StoreUnavailable
from .conflicts import event_conflict
from .documents import telemetry_document
from .outcomes import settle_failure
from .people import record_activity
from .settings import PermanentError


class EventWriter:
    """Events of a batch: deduplicated against telemetry in one look-up, inserted in one go.

    Each new event is stored as the telemetry document documents.py builds; the rare event
    conflict reads both payloads.
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
        # (appId, userId, anonymousId) -> [count, first, last] of the events stored.
        self.activity = {}

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
        pairs = []
        for item in self.pending:
            try:
                pairs.append((item, telemetry_document(item, self.now)))
            except Exception as exc:
                self._failed(item, exc, "cannot store its event", outcome, sequences)
        if pairs:
            self._insert(pairs, outcome, sequences)
        if self.activity:
            record_activity(self.store, [(*key, *value) for key, value in
                                         self.activity.items()], self.now)
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

    def _insert(self, pairs, outcome, sequences):
        """Store the events of (item, telemetry document) pairs."""
        try:
            with self.store.savepoint():
                self.store.insert_events([doc for _item, doc in pairs])
            for _item, doc in pairs:
                self._count(doc)
        except StoreUnavailable:
            raise
        except Exception as exc:
            if len(pairs) == 1:
                self._failed(pairs[0][0], exc, "cannot store its event", outcome, sequences)
                return
            # On MongoDB the other events of the failed insert may be stored already: storing
            # them again keeps the one there.
            half = len(pairs) // 2
            self._insert(pairs[:half], outcome, sequences)
            self._insert(pairs[half:], outcome, sequences)

    def _count(self, doc):
        key = (doc["appId"], doc.get("userId"), doc.get("anonymousId"))
        time = doc["timestamp"]
        found = self.activity.get(key)
        if found is None:
            self.activity[key] = [1, time, time]
        else:
            found[0] += 1
            found[1] = min(found[1], time)
            found[2] = max(found[2], time)

    @staticmethod
    def _failed(item, exc, step, outcome, sequences):
        if settle_failure(outcome, item, exc, step) == "retry" and sequences.active:
            sequences.reopen(item)

