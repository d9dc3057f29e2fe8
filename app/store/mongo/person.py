"""MongoDB adapter: a person's rows (upgrade step 5's fields and indexes).

Step 5 ("privacy") is made here, not by a class `INDEXES`: step 1 makes the indexes of the
releases before versioned stores, which had none of it.
"""

from pymongo import ASCENDING, DESCENDING

from .core import object_id, to_doc

# Upgrade step 5's indexes. A person's rows are found by (appId, userId) and walked newest first
# by _id (SQLite's indexes end with the rowid, which plays the same part there).
PRIVACY_INDEXES = {
    "conflicts": [([("appId", ASCENDING), ("userId", ASCENDING), ("_id", DESCENDING)], {})],
    "record_versions": [([("appId", ASCENDING), ("userId", ASCENDING), ("_id", DESCENDING)],
                         {})],
    "records": [([("appId", ASCENDING), ("userId", ASCENDING), ("_id", DESCENDING)], {})],
    "telemetry": [([("appId", ASCENDING), ("userId", ASCENDING), ("timestamp", DESCENDING),
                    ("_id", DESCENDING)], {})],
    "batch_logs": [([("appId", ASCENDING), ("userId", ASCENDING), ("_id", DESCENDING)], {})],
    "suppressions": [([("appId", ASCENDING), ("subject", ASCENDING)], {"unique": True})],
    "tombstones": [([("appId", ASCENDING), ("kind", ASCENDING), ("hash", ASCENDING)],
                    {"unique": True})],
    # A deletion's id is its _id.
    "deletions": [([("status", ASCENDING), ("requestedAt", ASCENDING)], {})],
}
# Rows filled in per round trip by step 5's backfill.
BACKFILL_CHUNK = 500


class MongoPerson:
    """A person's documents, newest first by _id (each index of step 5 ends with it); `key` is
    the document's id."""

    def _person_rows(self, collection, app_id, user_ids, before, limit, keep_id=True):
        query = {"appId": app_id, "userId": {"$in": list(dict.fromkeys(user_ids))}}
        if before is not None:
            oid = object_id(before)
            if oid is None:
                return []
            query["_id"] = {"$lt": oid}
        with self._errors():
            cursor = self.db[collection].find(query).sort("_id", DESCENDING).limit(limit)
            rows = [to_doc(doc) for doc in cursor]
        for row in rows:
            # Records and their versions are known by their keys, as on SQLite, not by an id.
            row["key"] = row["id"] if keep_id else row.pop("id")
        return rows

    def person_queue_items(self, app_id, user_ids, before=None, limit=100):
        """The person's queue items (payloads included), newest first, after key `before`."""
        return self._person_rows("sync_queue", app_id, user_ids, before, limit)

    def person_records(self, app_id, user_ids, before=None, limit=100):
        """The records whose userId is one of the person's, newest first, after `before`."""
        return self._person_rows("records", app_id, user_ids, before, limit, keep_id=False)

    def person_record_versions(self, app_id, user_ids, before=None, limit=100):
        """The record versions the person's items wrote, newest first, after `before`."""
        return self._person_rows("record_versions", app_id, user_ids, before, limit,
                                 keep_id=False)

    def person_conflicts(self, app_id, user_ids, before=None, limit=100):
        """The conflicts of the person's items (values included), newest first, after
        `before`."""
        return self._person_rows("conflicts", app_id, user_ids, before, limit)

    def person_batch_logs(self, app_id, user_ids, before=None, limit=100):
        """The batch logs of the person's batches, newest first, after `before`."""
        return self._person_rows("batch_logs", app_id, user_ids, before, limit)
