"""SQLite adapter: a person's rows (upgrade step 5's tables, columns and indexes).

Step 5 ("privacy") is made here, not by a class `DDL`: step 1 runs the scripts of the releases
before versioned stores, which had none of it.
"""

from ..common import QUEUE_STATES, int64

# Upgrade step 5's script, after upgrades.privacy has added the userId columns of conflicts and
# record_versions and filled them in. A person's rows are found by (appId, userId): SQLite keeps
# the rowid at the end of every index, so each of these also walks a person's rows in order.
PRIVACY_SCRIPT = """
CREATE INDEX IF NOT EXISTS conflicts_user ON conflicts (appId, userId);
CREATE INDEX IF NOT EXISTS record_versions_user ON record_versions (appId, userId);
CREATE INDEX IF NOT EXISTS records_user ON records (appId, userId);
CREATE INDEX IF NOT EXISTS telemetry_user_time ON telemetry (appId, userId, timestamp);
CREATE INDEX IF NOT EXISTS batch_logs_user ON batch_logs (appId, userId);
CREATE TABLE IF NOT EXISTS suppressions (
    appId TEXT NOT NULL, subject TEXT NOT NULL, createdAt REAL NOT NULL,
    PRIMARY KEY (appId, subject)
);
CREATE TABLE IF NOT EXISTS tombstones (
    appId TEXT NOT NULL, kind TEXT NOT NULL, hash TEXT NOT NULL, createdAt REAL NOT NULL,
    PRIMARY KEY (appId, kind, hash)
);
CREATE TABLE IF NOT EXISTS deletions (
    id TEXT PRIMARY KEY, appId TEXT NOT NULL, subject TEXT NOT NULL, userIds TEXT,
    suppress INTEGER NOT NULL DEFAULT 0, status TEXT NOT NULL, phase TEXT, counts TEXT,
    requestedBy TEXT, requestedAt REAL NOT NULL, updatedAt REAL, finishedAt REAL, error TEXT
);
CREATE INDEX IF NOT EXISTS deletions_status ON deletions (status, requestedAt);
"""

# Step 5's backfill: a conflict's person is its queue item's; a record version's is the queue
# item's that wrote it, else (a version written by a resolution, or an item since removed) the
# record's.
BACKFILL_SQL = (
    "UPDATE conflicts SET userId = (SELECT q.userId FROM sync_queue q "
    "WHERE q.appId = conflicts.appId AND q.itemId = conflicts.itemId) WHERE userId IS NULL",
    "UPDATE record_versions SET userId = COALESCE("
    "(SELECT q.userId FROM sync_queue q WHERE q.appId = record_versions.appId "
    "AND q.itemId = record_versions.itemId), "
    "(SELECT r.userId FROM records r WHERE r.appId = record_versions.appId "
    "AND r.recordType = record_versions.recordType AND r.recordId = record_versions.recordId)) "
    "WHERE userId IS NULL",
)

# Ids per compound query: each id is one index seek per partition (SQLite allows 500 terms).
IDS_PER_QUERY = 50


class SqlitePerson:
    """A person's rows, newest first by rowid (each index of step 5 ends with it): one index
    seek per id (and per queue state), each reading only the index; SQLite merges the rowids
    they hand over and reads the `limit` rows they name. `key` is the rowid."""

    def _person_rows(self, table, app_id, user_ids, before, limit, states=(None,)):
        ids = list(dict.fromkeys(user_ids))
        if before is not None:
            before = int64(before)
            if before is None:
                return []
        rows = []
        for start in range(0, len(ids), IDS_PER_QUERY):
            terms, params = [], []
            for user_id in ids[start:start + IDS_PER_QUERY]:
                for state in states:
                    where = "appId = ? AND userId = ?"
                    params += [app_id, user_id]
                    if state is not None:
                        where += " AND status = ?"
                        params.append(state)
                    if before is not None:
                        where += " AND rowid < ?"
                        params.append(before)
                    terms.append(f"SELECT * FROM (SELECT rowid AS key FROM {table} "
                                 f"WHERE {where} ORDER BY rowid DESC LIMIT ?)")
                    params.append(limit)
            rows += self._query(
                f"SELECT rowid AS key, * FROM {table} WHERE rowid IN "
                f"({' UNION ALL '.join(terms)} ORDER BY key DESC LIMIT ?) ORDER BY rowid DESC",
                (*params, limit))
        if len(ids) > IDS_PER_QUERY:
            rows = sorted(rows, key=lambda row: row["key"], reverse=True)[:limit]
        return rows

    def person_queue_items(self, app_id, user_ids, before=None, limit=100):
        """The person's queue items (payloads included), newest first, after key `before`."""
        # The queue's index of a person's items is (appId, userId, status): each state is walked
        # on its own, in id order.
        return self._person_rows("sync_queue", app_id, user_ids, before, limit, QUEUE_STATES)

    def person_records(self, app_id, user_ids, before=None, limit=100):
        """The records whose userId is one of the person's, newest first, after `before`."""
        return self._person_rows("records", app_id, user_ids, before, limit)

    def person_record_versions(self, app_id, user_ids, before=None, limit=100):
        """The record versions the person's items wrote, newest first, after `before`."""
        return self._person_rows("record_versions", app_id, user_ids, before, limit)

    def person_conflicts(self, app_id, user_ids, before=None, limit=100):
        """The conflicts of the person's items (values included), newest first, after
        `before`."""
        return self._person_rows("conflicts", app_id, user_ids, before, limit)

    def person_batch_logs(self, app_id, user_ids, before=None, limit=100):
        """The batch logs of the person's batches, newest first, after `before`."""
        return self._person_rows("batch_logs", app_id, user_ids, before, limit)
