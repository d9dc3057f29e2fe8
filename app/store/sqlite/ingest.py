"""SQLite adapter: the ingest port's queue and batch-log writes (one transaction inside
enqueue's unit of work), and batch and queue look-ups."""

from ..common import QUEUE_STATES
from .core import dumps, first_value, to_epoch, to_row

QUEUE_INSERT_COLUMNS = (
    "appId", "itemId", "userId", "itemType", "itemData", "meta", "status", "priority",
    "conflictResolution", "attempts", "nextAttemptAt", "batchId", "createdAt", "updatedAt",
    "payloadHash", "clientId", "seq", "recordId", "conflictOf", "source",
)
QUEUE_INSERT_SQL = (
    f"INSERT INTO sync_queue ({', '.join(QUEUE_INSERT_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(QUEUE_INSERT_COLUMNS))}) ON CONFLICT DO NOTHING"
)
# Queue columns shown in lists: everything but the payload.
QUEUE_LIST_COLUMNS = (
    "id, appId, itemId, userId, itemType, status, priority, conflictResolution, attempts, "
    "nextAttemptAt, lastError, batchId, leaseUntil, createdAt, updatedAt, clientId, seq, "
    "recordId, conflictOf, source"
)


def queue_row(item):
    """A queue document as the values of QUEUE_INSERT_SQL (the ingest hot path: no generic loop)."""
    data, meta = item["itemData"], item.get("meta")
    return (
        item["appId"], item["itemId"], item.get("userId"), item["itemType"],
        data if isinstance(data, str) else dumps(data),
        meta if isinstance(meta, str | None) else dumps(meta),
        item["status"], item.get("priority", 0), item.get("conflictResolution"),
        item.get("attempts", 0), to_epoch(item.get("nextAttemptAt")), item.get("batchId"),
        to_epoch(item["createdAt"]), to_epoch(item["updatedAt"]), item["payloadHash"],
        item.get("clientId"), item.get("seq"), item.get("recordId"), item.get("conflictOf"),
        item.get("source"),
    )


class SqliteIngest:
    """Queue writes for accepted items, batch logs of client batches, and their read side."""

    def prepare_items(self, items):
        """The queue documents as the values of QUEUE_INSERT_SQL, in order."""
        return [queue_row(item) for item in items]

    def existing_items(self, app_id, item_ids):
        """{itemId: (batchId, payloadHash)} of the given ids already stored."""
        with self._errors():
            rows = self._rows_for_ids(
                self._connection(), "SELECT itemId, batchId, payloadHash FROM sync_queue "
                "WHERE appId = ? AND itemId IN ({marks})", app_id, item_ids)
            return {item_id: (batch_id, digest) for item_id, batch_id, digest in rows}

    def open_item_counts(self, app_id, user_ids, states):
        """{userId: its queue entries in `states`}, one indexed COUNT per user."""
        states = tuple(states)
        sql = ("SELECT COUNT(*) FROM sync_queue WHERE appId = ? AND userId IS ? "
               f"AND status IN ({', '.join('?' * len(states))})")
        with self._errors():
            conn = self._connection()
            return {user_id: first_value(conn, sql, (app_id, user_id, *states))
                    for user_id in user_ids}

    def insert_items(self, prepared):
        """Insert prepared rows, skipping an (appId, itemId) already stored; the skipped ids."""
        with self._errors():
            conn = self._connection()
            cur = conn.executemany(QUEUE_INSERT_SQL, prepared)
            if cur.rowcount == len(prepared):
                return set()
            # Rare (enqueue looked the ids up in the same transaction): the rows inserted just
            # now took the largest ids, one after another, so every other row was skipped.
            inserted = cur.rowcount
            kept = set()
            if inserted:
                last = first_value(conn, "SELECT last_insert_rowid()")
                cur = conn.execute("SELECT appId, itemId FROM sync_queue WHERE id > ?",
                                   (last - inserted,))
                cur.row_factory = None
                kept = {(row[0], row[1]) for row in cur}
        skipped, seen = set(), set()
        for row in prepared:
            key = (row[0], row[1])
            if key not in kept or key in seen:
                skipped.add(row[1])
            seen.add(key)
        return skipped

    def insert_batch_log(self, doc):
        """Store a client batch log; False when its (appId, batchId) is already stored."""
        row = to_row(doc)
        with self._errors():
            cur = self._connection().execute(
                f"INSERT INTO batch_logs ({', '.join(row)}) "
                f"VALUES ({', '.join('?' * len(row))}) ON CONFLICT DO NOTHING",
                tuple(row.values()))
        return cur.rowcount == 1

    def _batch_log(self, conn, app_id, batch_id):
        return conn.execute("SELECT * FROM batch_logs WHERE appId IS ? AND batchId = ?",
                            (app_id, batch_id)).fetchone()

    def get_batch_log(self, app_id, batch_id):
        """A batch log by id; app_id None finds sync runs, which belong to no app."""
        with self._reading() as conn:
            return self._batch_log(conn, app_id, batch_id)

    def batch_items(self, app_id, batch_id):
        """The queue entries (without payloads) a client batch created, in arrival order."""
        return self._query(
            f"SELECT {QUEUE_LIST_COLUMNS} FROM sync_queue WHERE appId = ? AND batchId = ? "
            "ORDER BY id", (app_id, batch_id))

    def queue_counts(self, app_id=None, user_id=None):
        """Queue entries by status (states with none left out), optionally of one app and user."""
        if user_id is None:
            return {state: n for state, n in self.state_counts(app_id).items() if n}
        sql = "SELECT status, COUNT(*) AS n FROM sync_queue WHERE userId = ?"
        params = [user_id]
        if app_id is not None:
            sql += " AND appId = ?"
            params.append(app_id)
        rows = self._query(sql + " GROUP BY status", params)
        return {row["status"]: row["n"] for row in rows}

    def state_counts(self, app_id=None):
        """Every state's count, fast on a large queue: one indexed COUNT per small state, and
        the big `done` state as the total less the others, all in one read snapshot."""
        app_filter, params = ("", ()) if app_id is None else (" AND appId = ?", (app_id,))
        counts = {}
        with self._reading() as conn:
            conn.execute("BEGIN")
            try:
                for state in QUEUE_STATES:
                    if state != "done":
                        counts[state] = first_value(
                            conn, "SELECT COUNT(*) FROM sync_queue INDEXED BY "
                            f"sync_queue_status_id WHERE status = ?{app_filter}",
                            (state, *params))
                total = first_value(
                    conn, "SELECT COUNT(*) FROM sync_queue"
                    + (" WHERE appId = ?" if app_id is not None else ""), params)
            finally:
                conn.execute("COMMIT")
        counts["done"] = total - sum(counts.values())
        return counts

    def get_queue_item(self, app_id, item_id):
        """One queue entry with its payload, or None; app_id None searches every app."""
        if app_id is None:
            return self._query_one("SELECT * FROM sync_queue WHERE itemId = ?", (item_id,))
        return self._query_one("SELECT * FROM sync_queue WHERE appId = ? AND itemId = ?",
                              (app_id, item_id))

    def last_sync_run(self):
        """The newest sync run's batch log (source scheduled or manual), or None."""
        return self._query_one(
            "SELECT * FROM batch_logs WHERE source IN ('scheduled', 'manual') "
            "ORDER BY startTime DESC LIMIT 1")

    def first_item_time(self):
        """When the oldest queue entry arrived, or None for an empty queue."""
        row = self._query_one("SELECT createdAt FROM sync_queue ORDER BY id LIMIT 1")
        return row["createdAt"] if row else None

    def oldest_item_time(self, statuses):
        """When the oldest queue entry in one of `statuses` arrived, or None when none is (the
        (status, id) index, one seek per status)."""
        times = []
        for status in statuses:
            row = self._query_one("SELECT createdAt FROM sync_queue WHERE status = ? "
                                  "ORDER BY id LIMIT 1", (status,))
            if row is not None:
                times.append(row["createdAt"])
        return min(times, default=None)
