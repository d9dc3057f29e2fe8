"""MongoDB adapter core: the database handle, indexes, and documents' conversion."""

import logging
from contextlib import contextmanager, nullcontext

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING
from pymongo.errors import DuplicateKeyError, PyMongoError

from ..common import Capabilities
from ..errors import DuplicateKey, StoreUnavailable

log = logging.getLogger("prepmate.store")

CORE_INDEXES = {
    "api_keys": [
        ([("keyHash", ASCENDING)], {"unique": True}),
        ([("keyId", ASCENDING)], {"unique": True}),
    ],
    "users": [([("username", ASCENDING)], {"unique": True})],
    "audit_log": [([("at", DESCENDING)], {})],
    "locks": [([("name", ASCENDING)], {"unique": True})],
    "sync_queue": [
        ([("appId", ASCENDING), ("itemId", ASCENDING)], {"unique": True}),
        ([("status", ASCENDING), ("priority", DESCENDING), ("nextAttemptAt", ASCENDING)], {}),
        # Keyset pages and counts, newest first: by app, app and state, app and user (and
        # state: a user's backlog too); a batch's items in arrival order. (They replace
        # appId_1_userId_1_status_1 and appId_1_batchId_1, which upgrade step 2 drops.)
        ([("appId", ASCENDING), ("_id", DESCENDING)], {}),
        ([("appId", ASCENDING), ("status", ASCENDING), ("_id", DESCENDING)], {}),
        ([("appId", ASCENDING), ("userId", ASCENDING), ("_id", DESCENDING)], {}),
        ([("appId", ASCENDING), ("userId", ASCENDING), ("status", ASCENDING),
          ("_id", DESCENDING)], {}),
        ([("appId", ASCENDING), ("batchId", ASCENDING), ("_id", ASCENDING)], {}),
    ],
    "batch_logs": [
        ([("appId", ASCENDING), ("batchId", ASCENDING)], {"unique": True}),
        # Pages newest first with the id as tie-break: every log, by source, by status, both.
        # (They replace startTime_-1 and source_1_startTime_-1, which upgrade step 2 drops.)
        ([("startTime", DESCENDING), ("_id", DESCENDING)], {}),
        ([("source", ASCENDING), ("startTime", DESCENDING), ("_id", DESCENDING)], {}),
        ([("status", ASCENDING), ("startTime", DESCENDING), ("_id", DESCENDING)], {}),
        ([("source", ASCENDING), ("status", ASCENDING), ("startTime", DESCENDING),
          ("_id", DESCENDING)], {}),
    ],
    "telemetry": [
        ([("appId", ASCENDING), ("eventId", ASCENDING)], {"unique": True}),
        ([("appId", ASCENDING), ("eventType", ASCENDING), ("timestamp", ASCENDING)], {}),
    ],
    "records": [
        ([("appId", ASCENDING), ("recordType", ASCENDING), ("recordId", ASCENDING)],
         {"unique": True}),
        ([("appId", ASCENDING), ("recordType", ASCENDING), ("changeSeq", ASCENDING)], {}),
    ],
    "record_versions": [
        ([("appId", ASCENDING), ("recordType", ASCENDING), ("recordId", ASCENDING),
          ("version", ASCENDING)], {"unique": True}),
    ],
    "conflicts": [
        ([("status", ASCENDING), ("_id", DESCENDING)], {}),
        # An app's conflicts of every status, newest first.
        ([("appId", ASCENDING), ("_id", DESCENDING)], {}),
    ],
    "client_seqs": [([("appId", ASCENDING), ("clientId", ASCENDING)], {"unique": True})],
}


def to_doc(raw):
    """A stored document with `_id` turned into a string `id`."""
    if raw is None:
        return None
    raw = dict(raw)
    oid = raw.pop("_id", None)
    if oid is not None and "id" not in raw:
        raw["id"] = str(oid)
    return raw


def object_id(value):
    """A document id from its string form; None when it is not one."""
    try:
        return ObjectId(str(value))
    except Exception:  # bson raises InvalidId or TypeError
        return None


class MongoCore(Capabilities):
    """The database handle, error translation and index creation for the MongoDB store."""

    kind = "mongodb"
    INDEXES = (CORE_INDEXES,)

    def __init__(self, db, retention_days=None, client=None):
        self.db = db
        self.retention_days = retention_days
        self._client = client  # the client create_store made for this store, closed by close()

    @contextmanager
    def _errors(self):
        try:
            yield
        except DuplicateKeyError as exc:
            raise DuplicateKey(str(exc)) from exc
        except PyMongoError as exc:
            raise StoreUnavailable(f"MongoDB unavailable: {exc}") from exc

    def unit_of_work(self, durable=True):
        """A unit of work. MongoDB gives no transaction here (neither a standalone server nor
        mongomock has them): the writes inside are ordered and each is idempotent, so a unit cut
        short is completed by doing it again; each is as durable as the write concern makes it."""
        return nullcontext()

    def savepoint(self):
        """No partial rollback on MongoDB: an item's writes are replay-safe instead."""
        return nullcontext()

    # The schema (app/store/schema.py): one document per upgrade step taken, its _id the
    # version.
    def schema_version(self):
        """The schema version the store is at: None for a new, empty store; 0 for one made by a
        release from before versioned stores."""
        with self._errors():
            newest = self.db.schema_versions.find_one({}, sort=[("_id", DESCENDING)])
            if newest is not None:
                return newest["_id"]
            names = [name for name in self.db.list_collection_names()
                     if name != "schema_versions" and not name.startswith("system.")]
        return 0 if names else None

    def schema_history(self):
        """The upgrade steps applied to the store, oldest first: version, name, release and
        appliedAt."""
        with self._errors():
            return [{"version": doc["_id"], "name": doc["name"], "release": doc["release"],
                     "appliedAt": doc["appliedAt"]}
                    for doc in self.db.schema_versions.find({}).sort("_id", ASCENDING)]

    def upgrade_step(self, version, name, release, now):
        """Take the store from `version` - 1 to `version` and record it. No transaction: each
        step is idempotent, so one cut short is completed by taking it again; False when it had
        been taken."""
        from .upgrades import STEPS

        with self._errors():
            if self.db.schema_versions.find_one({"_id": version}) is not None:
                return False
            STEPS[version](self)
            try:
                self.db.schema_versions.insert_one({"_id": version, "name": name,
                                                    "release": release, "appliedAt": now})
            except DuplicateKeyError:
                return False
        return True

    def apply_settings(self):
        """RETENTION_DAYS's TTL indexes (idempotent; run at start-up)."""
        if not self.retention_days:
            return
        from .retention import ttl_indexes

        with self._errors():
            for collection, specs in ttl_indexes(self.retention_days).items():
                for keys, options in specs:
                    self.db[collection].create_index(keys, **options)

    def parse_id(self, value):
        """The document id `value` names, as its canonical string, or None when it names none."""
        oid = object_id(value)
        return None if oid is None else str(oid)

    def ping(self):
        """Raise StoreUnavailable unless the server answers."""
        with self._errors():
            self.db.command("ping")

    def close(self):
        """Close the client this store was made with (it pools its connections)."""
        if self._client is not None:
            self._client.close()

    def reset(self):
        """Delete every document of every collection but the schema versions (tests only)."""
        with self._errors():
            for name in self.db.list_collection_names():
                if name != "schema_versions":
                    self.db[name].delete_many({})
