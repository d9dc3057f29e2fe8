"""MongoDB adapter: the ingest write path (queue inserts with dedupe) and batch look-ups."""

from pymongo import ASCENDING
from pymongo.errors import BulkWriteError, DuplicateKeyError

from ..common import OPEN_STATES, QUEUE_STATES, EncodedJson, classify, variant_item_id
from ..errors import BacklogFull
from .core import to_doc

# Queue fields shown in lists: everything but the payload.
QUEUE_LIST_PROJECTION = {"itemData": 0, "meta": 0, "payloadHash": 0}
DUPLICATE_KEY = 11000


def plain(doc):
    """A document for insertion, with pre-encoded JSON fields as their decoded values."""
    return {k: v.value if isinstance(v, EncodedJson) else v for k, v in doc.items()}


class MongoIngest:
    """Queue writes for accepted items, batch logs of client batches, and their read side."""

    def _existing(self, app_id, item_ids):
        cursor = self.db.sync_queue.find(
            {"appId": app_id, "itemId": {"$in": list(item_ids)}},
            {"itemId": 1, "batchId": 1, "payloadHash": 1, "_id": 0},
        )
        return {d["itemId"]: (d.get("batchId"), d["payloadHash"]) for d in cursor}

    def _check_backlog(self, app_id, items, max_open):
        incoming = {}
        for item in items:
            incoming[item.get("userId")] = incoming.get(item.get("userId"), 0) + 1
        for user_id, count in incoming.items():
            open_items = self.db.sync_queue.count_documents(
                {"appId": app_id, "userId": user_id, "status": {"$in": list(OPEN_STATES)}})
            if open_items + count > max_open:
                raise BacklogFull(user_id, open_items, max_open)

    def ingest(self, app_id, items, batch_id=None, make_batch_log=None, max_open=None):
        """Store accepted items as pending queue entries, exactly once (see the SQLite adapter).

        MongoDB gives no transaction here: the unique (appId, itemId) index keeps every item
        once, a batch's own items count as `accepted` on replay, and a crash between the items
        and the batch log is repaired by the client's resend, which finds its items stored.
        """
        with self._errors():
            if batch_id is not None:
                stored = self.get_batch_log(app_id, batch_id)
                if stored is not None:
                    return None, stored
            existing = self._existing(app_id, [i["itemId"] for i in items])
            variants = [variant_item_id(i["itemId"], i["payloadHash"]) for i in items
                        if i["itemId"] in existing and existing[i["itemId"]][1] != i["payloadHash"]]
            if variants:
                existing.update(self._existing(app_id, variants))
            to_insert, outcomes = classify(items, existing)
            if max_open is not None and to_insert:
                self._check_backlog(app_id, to_insert, max_open)
            if to_insert:
                raced = self._insert_items(to_insert)
                if raced:
                    outcomes = [("duplicate", item_id) if item_id in raced else (status, item_id)
                                for status, item_id in outcomes]
            batch_log = None
            if make_batch_log is not None:
                batch_log = dict(make_batch_log(outcomes), appId=app_id)
                try:
                    self.db.batch_logs.insert_one(dict(batch_log))
                except DuplicateKeyError:
                    return None, self.get_batch_log(app_id, batch_id)
        return outcomes, batch_log

    def _insert_items(self, items):
        """Insert queue documents; the ids another writer stored first come back."""
        try:
            self.db.sync_queue.insert_many([plain(item) for item in items], ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != DUPLICATE_KEY for e in errors):
                raise
            return {items[e["index"]]["itemId"] for e in errors}
        return set()

    def get_batch_log(self, app_id, batch_id):
        """A batch log by id; app_id None finds sync runs, which belong to no app."""
        with self._errors():
            return to_doc(self.db.batch_logs.find_one({"appId": app_id, "batchId": batch_id}))

    def batch_items(self, app_id, batch_id):
        """The queue entries (without payloads) a client batch created, in arrival order."""
        with self._errors():
            cursor = self.db.sync_queue.find(
                {"appId": app_id, "batchId": batch_id}, QUEUE_LIST_PROJECTION
            ).sort("_id", ASCENDING)
            return [to_doc(d) for d in cursor]

    def queue_counts(self, app_id=None, user_id=None):
        """Queue entries by status (states with none left out), optionally of one app and user."""
        return {state: n for state, n in self.state_counts(app_id, user_id).items() if n}

    def state_counts(self, app_id=None, user_id=None):
        """Every state's count, one indexed count each."""
        match = {}
        if app_id is not None:
            match["appId"] = app_id
        if user_id is not None:
            match["userId"] = user_id
        with self._errors():
            return {state: self.db.sync_queue.count_documents(dict(match, status=state))
                    for state in QUEUE_STATES}

    def get_queue_item(self, app_id, item_id):
        """One queue entry with its payload, or None; app_id None searches every app."""
        query = {"itemId": item_id} if app_id is None else {"appId": app_id, "itemId": item_id}
        with self._errors():
            return to_doc(self.db.sync_queue.find_one(query))

    def last_sync_run(self):
        """The newest sync run's batch log (source scheduled or manual), or None."""
        with self._errors():
            return to_doc(self.db.batch_logs.find_one(
                {"source": {"$in": ["scheduled", "manual"]}}, sort=[("startTime", -1)]))

    def first_item_time(self):
        """When the oldest queue entry arrived, or None for an empty queue."""
        with self._errors():
            doc = self.db.sync_queue.find_one({}, {"createdAt": 1}, sort=[("_id", ASCENDING)])
        return doc["createdAt"] if doc else None
