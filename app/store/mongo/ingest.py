"""MongoDB adapter: the ingest port's queue and batch-log writes (ordered, each idempotent under
the unique indexes), and batch and queue look-ups."""

from pymongo import ASCENDING
from pymongo.errors import BulkWriteError, DuplicateKeyError

from ..common import QUEUE_STATES, EncodedJson
from .core import to_doc

# Queue fields shown in lists: everything but the payload.
QUEUE_LIST_PROJECTION = {"itemData": 0, "meta": 0, "payloadHash": 0}
DUPLICATE_KEY = 11000


def plain(doc):
    """A document for insertion, with pre-encoded JSON fields as their decoded values."""
    return {k: v.value if isinstance(v, EncodedJson) else v for k, v in doc.items()}


class MongoIngest:
    """Queue writes for accepted items, batch logs of client batches, and their read side."""

    def prepare_items(self, items):
        """The queue documents for insert_many, pre-encoded JSON fields as their values."""
        return [plain(item) for item in items]

    def existing_items(self, app_id, item_ids):
        """{itemId: (batchId, payloadHash)} of the given ids already stored."""
        with self._errors():
            cursor = self.db.sync_queue.find(
                {"appId": app_id, "itemId": {"$in": list(item_ids)}},
                {"itemId": 1, "batchId": 1, "payloadHash": 1, "_id": 0},
            )
            return {d["itemId"]: (d.get("batchId"), d["payloadHash"]) for d in cursor}

    def open_item_counts(self, app_id, user_ids, states):
        """{userId: its queue entries in `states`}, one indexed count per user."""
        states = list(states)
        with self._errors():
            return {user_id: self.db.sync_queue.count_documents(
                        {"appId": app_id, "userId": user_id, "status": {"$in": states}})
                    for user_id in user_ids}

    def insert_items(self, prepared):
        """Insert queue documents; the ids another writer stored first come back, not stored."""
        with self._errors():
            try:
                self.db.sync_queue.insert_many(prepared, ordered=False)
            except BulkWriteError as exc:
                errors = exc.details.get("writeErrors", [])
                if any(e.get("code") != DUPLICATE_KEY for e in errors):
                    raise
                return {prepared[e["index"]]["itemId"] for e in errors}
        return set()

    def insert_batch_log(self, doc):
        """Store a client batch log; False when its (appId, batchId) is already stored."""
        with self._errors():
            try:
                self.db.batch_logs.insert_one(dict(doc))
            except DuplicateKeyError:
                return False
        return True

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
        match = {} if app_id is None else {"appId": app_id}
        if user_id is not None:
            match["userId"] = user_id
        return {state: n for state, n in self._state_counts(match).items() if n}

    def state_counts(self, app_id=None):
        """Every state's count, one indexed count each."""
        return self._state_counts({} if app_id is None else {"appId": app_id})

    def _state_counts(self, match):
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

    def oldest_item_time(self, statuses):
        """When the oldest queue entry in one of `statuses` arrived, or None when none is (the
        (status, _id) index, one seek per status)."""
        times = []
        with self._errors():
            for status in statuses:
                doc = self.db.sync_queue.find_one({"status": status}, {"createdAt": 1},
                                                  sort=[("_id", ASCENDING)])
                if doc is not None:
                    times.append(doc["createdAt"])
        return min(times, default=None)
