"""SQLite adapter: the ingest write path (queue inserts with dedupe) and batch look-ups."""

from ..common import OPEN_STATES, QUEUE_STATES, classify, variant_item_id
from ..errors import BacklogFull
from .core import dumps, first_value, to_epoch

QUEUE_INSERT_COLUMNS = (
    "appId", "itemId", "userId", "itemType", "itemData", "meta", "status", "priority",
    "conflictResolution", "attempts", "nextAttemptAt", "batchId", "createdAt", "updatedAt",
    "payloadHash", "clientId", "seq", "recordId", "conflictOf",
)
QUEUE_INSERT_SQL = (
    f"INSERT INTO sync_queue ({', '.join(QUEUE_INSERT_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(QUEUE_INSERT_COLUMNS))})"
)
# Queue columns shown in lists: everything but the payload.
QUEUE_LIST_COLUMNS = (
    "id, appId, itemId, userId, itemType, status, priority, conflictResolution, attempts, "
    "nextAttemptAt, lastError, batchId, leaseUntil, createdAt, updatedAt, clientId, seq, "
    "recordId, conflictOf"
)
# SQLite allows 32766 bound parameters; look ids up in chunks well below that.
ID_CHUNK = 500


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
    )


class SqliteIngest:
    """Queue writes for accepted items, batch logs of client batches, and their read side."""

    def _existing(self, conn, app_id, item_ids):
        found = {}
        for start in range(0, len(item_ids), ID_CHUNK):
            chunk = item_ids[start:start + ID_CHUNK]
            cur = conn.execute(
                "SELECT itemId, batchId, payloadHash FROM sync_queue "
                f"WHERE appId = ? AND itemId IN ({', '.join('?' * len(chunk))})",
                (app_id, *chunk),
            )
            cur.row_factory = None
            found.update((row[0], (row[1], row[2])) for row in cur)
        return found

    def _check_backlog(self, conn, app_id, items, max_open):
        incoming = {}
        for item in items:
            incoming[item.get("userId")] = incoming.get(item.get("userId"), 0) + 1
        marks = ", ".join("?" * len(OPEN_STATES))
        for user_id, count in incoming.items():
            open_items = first_value(
                conn, "SELECT COUNT(*) FROM sync_queue WHERE appId = ? AND userId IS ? "
                f"AND status IN ({marks})", (app_id, user_id, *OPEN_STATES))
            if open_items + count > max_open:
                raise BacklogFull(user_id, open_items, max_open)

    def ingest(self, app_id, items, batch_id=None, make_batch_log=None, max_open=None):
        """Store accepted items as pending queue entries, exactly once, in one transaction.

        With `batch_id`, a batch log already stored under that id means a replay: nothing is
        written and (None, stored log) comes back. Otherwise returns (outcomes, log): outcomes
        are (status, itemId) pairs in input order and `make_batch_log(outcomes)` builds the log
        written in the same transaction. Raises BacklogFull, storing nothing, when a user's open
        items would pass `max_open`.
        """
        # Rows are built before the write lock is taken, so other writers wait less; only an
        # item classify() re-keys (a re-used id) is built inside.
        rows = {id(item): queue_row(item) for item in items}
        with self.transaction() as conn:
            if batch_id is not None:
                stored = self._batch_log(conn, app_id, batch_id)
                if stored is not None:
                    return None, stored
            existing = self._existing(conn, app_id, [i["itemId"] for i in items])
            variants = [variant_item_id(i["itemId"], i["payloadHash"]) for i in items
                        if i["itemId"] in existing and existing[i["itemId"]][1] != i["payloadHash"]]
            if variants:
                existing.update(self._existing(conn, app_id, variants))
            to_insert, outcomes = classify(items, existing)
            if max_open is not None and to_insert:
                self._check_backlog(conn, app_id, to_insert, max_open)
            if to_insert:
                conn.executemany(QUEUE_INSERT_SQL, [
                    rows[id(item)] if id(item) in rows else queue_row(item)
                    for item in to_insert])
            batch_log = None
            if make_batch_log is not None:
                batch_log = dict(make_batch_log(outcomes), appId=app_id)
                self.insert(conn, "batch_logs", batch_log)
        return outcomes, batch_log

    def _batch_log(self, conn, app_id, batch_id):
        return conn.execute("SELECT * FROM batch_logs WHERE appId IS ? AND batchId = ?",
                            (app_id, batch_id)).fetchone()

    def get_batch_log(self, app_id, batch_id):
        """A batch log by id; app_id None finds sync runs, which belong to no app."""
        with self.reading() as conn:
            return self._batch_log(conn, app_id, batch_id)

    def batch_items(self, app_id, batch_id):
        """The queue entries (without payloads) a client batch created, in arrival order."""
        return self.query(
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
        rows = self.query(sql + " GROUP BY status", params)
        return {row["status"]: row["n"] for row in rows}

    def state_counts(self, app_id=None):
        """Every state's count, fast on a large queue: one indexed COUNT per small state, and
        the big `done` state as the total less the others, all in one read snapshot."""
        app_filter, params = ("", ()) if app_id is None else (" AND appId = ?", (app_id,))
        counts = {}
        with self.reading() as conn:
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
            return self.query_one("SELECT * FROM sync_queue WHERE itemId = ?", (item_id,))
        return self.query_one("SELECT * FROM sync_queue WHERE appId = ? AND itemId = ?",
                              (app_id, item_id))

    def last_sync_run(self):
        """The newest sync run's batch log (source scheduled or manual), or None."""
        return self.query_one(
            "SELECT * FROM batch_logs WHERE source IN ('scheduled', 'manual') "
            "ORDER BY startTime DESC LIMIT 1")

    def first_item_time(self):
        """When the oldest queue entry arrived, or None for an empty queue."""
        row = self.query_one("SELECT createdAt FROM sync_queue ORDER BY id LIMIT 1")
        return row["createdAt"] if row else None
