"""SQLite adapter: the console's operations (fast counts, keyset pages, look-ups, actions)."""

from ..port.console import match_fields
from .core import first_value, to_epoch
from .ingest import QUEUE_LIST_COLUMNS

BATCH_LIST_COLUMNS = (
    "id, batchId, appId, userId, clientId, source, itemCount, successCount, failureCount, "
    "duplicateCount, conflictCount, rejectedCount, startTime, endTime, status, "
    "CASE WHEN errors IS NULL THEN 0 ELSE json_array_length(errors) END AS errorCount"
)
# Every distinct appId, one index seek each (a skip-scan of the unique (appId, itemId) index),
# so look-ups by itemId, batchId or userId across apps use the existing per-app indexes.
def distinct_apps_sql(table):
    """Every distinct appId of `table`, one seek each of an index that starts with appId."""
    return f"""
WITH RECURSIVE apps(a) AS (
    SELECT (SELECT MIN(appId) FROM {table})
    UNION ALL
    SELECT (SELECT MIN(appId) FROM {table} WHERE appId > a) FROM apps WHERE a IS NOT NULL
) SELECT a FROM apps WHERE a IS NOT NULL
"""


APP_IDS_SQL = distinct_apps_sql("sync_queue")


def _where(match):
    """SQL conditions and parameters for the fields of a queue look-up."""
    fields = match_fields(match)
    return [f"{field} = ?" for field in fields], [match[field] for field in fields]


def _in(column, values):
    return f"{column} IN ({', '.join('?' * len(values))})"


class SqliteConsole:
    """The console's operations (port/console.py's ConsoleStore), fast on a queue of a million
    items."""

    DDL = (
        # Applied events by app and type, so the events page reads a handful of rows instead of
        # every event. The sync engine's telemetry insert adds its own counts (insert_events, one
        # upsert per type instead of one per event); triggers follow deletes and edits. The first
        # run fills it from the events already stored: the delete trigger is the mark of a file
        # that has the table. Files from before insert_events counted by a trigger lose it.
        """
        BEGIN IMMEDIATE;
        CREATE TABLE IF NOT EXISTS event_type_counts (
            appId TEXT NOT NULL, eventType TEXT NOT NULL, n INTEGER NOT NULL,
            PRIMARY KEY (appId, eventType)
        );
        INSERT INTO event_type_counts (appId, eventType, n)
            SELECT appId, eventType, COUNT(*) FROM telemetry
            WHERE NOT EXISTS (SELECT 1 FROM sqlite_master
                              WHERE type = 'trigger' AND name = 'telemetry_count_delete')
            GROUP BY appId, eventType;
        DROP TRIGGER IF EXISTS telemetry_count_insert;
        CREATE TRIGGER IF NOT EXISTS telemetry_count_delete AFTER DELETE ON telemetry BEGIN
            UPDATE event_type_counts SET n = n - 1
            WHERE appId = OLD.appId AND eventType = OLD.eventType;
        END;
        CREATE TRIGGER IF NOT EXISTS telemetry_count_update
        AFTER UPDATE OF appId, eventType ON telemetry
        WHEN OLD.appId IS NOT NEW.appId OR OLD.eventType IS NOT NEW.eventType BEGIN
            UPDATE event_type_counts SET n = n - 1
            WHERE appId = OLD.appId AND eventType = OLD.eventType;
            INSERT INTO event_type_counts (appId, eventType, n) VALUES (NEW.appId, NEW.eventType, 1)
            ON CONFLICT (appId, eventType) DO UPDATE SET n = n + 1;
        END;
        COMMIT;
        """,
        # Batch errors (status partial/error) without scanning every successful batch.
        "CREATE INDEX IF NOT EXISTS batch_logs_status ON batch_logs (status, startTime);"
        # Sync runs' chart and duration totals from the index alone.
        "CREATE INDEX IF NOT EXISTS batch_logs_runs ON batch_logs "
        "(source, startTime, endTime, itemCount, failureCount);",
    )

    def queue_app_ids(self):
        """The apps that have queue items."""
        with self._reading() as conn:
            cur = conn.execute(APP_IDS_SQL)
            cur.row_factory = None
            return [row[0] for row in cur]

    def console_queue_counts(self):
        """Queue items by state, every state present (zeros too), fast on a large queue."""
        return self.state_counts()

    def queue_page(self, match, status=None, app_ids=None, before_id=None, limit=50):
        """Queue items (no payloads) with the fields of `match`, in `status` and `app_ids` when
        given, ids below `before_id`, newest first."""
        clauses, params = _where(match)
        if status is not None:
            clauses.append("status = ?")
            params.append(status)
        if app_ids is not None:
            clauses.append(_in("appId", app_ids))
            params.extend(app_ids)
        if before_id is not None:
            before_id = self.parse_id(before_id)
            if before_id is None:
                return []
            clauses.append("id < ?")
            params.append(before_id)
        sql = f"SELECT {QUEUE_LIST_COLUMNS} FROM sync_queue"
        if status is not None and "userId" not in match:
            # The planner may otherwise walk the id index and test every row's status.
            sql += " INDEXED BY sync_queue_status_id"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        return self._query(sql + " ORDER BY id DESC LIMIT ?", (*params, limit))

    def count_queue(self, match, statuses=None):
        """How many queue items have the fields of `match` and one of `statuses`."""
        total = 0
        with self._reading() as conn:
            # One count per state: each is a range of the (status, id) index.
            for status in statuses or [None]:
                clauses, params = _where(match)
                if status is not None:
                    clauses.append("status = ?")
                    params.append(status)
                sql = "SELECT COUNT(*) FROM sync_queue"
                if clauses:
                    sql += " WHERE " + " AND ".join(clauses)
                total += first_value(conn, sql, params)
        return total

    def queue_item(self, key):
        """One queue item with its payload by its store id, or None."""
        key = self.parse_id(key)
        if key is None:
            return None
        return self._query_one("SELECT * FROM sync_queue WHERE id = ?", (key,))

    def _chosen(self, statuses, ids, match):
        """SQL condition for the items in `statuses` with these ids, or else matching."""
        clauses, params = [_in("status", statuses)], list(statuses)
        if ids is not None:
            keys = [key for key in map(self.parse_id, ids) if key is not None]
            clauses.append(_in("id", keys))
            params.extend(keys)
        else:
            more, more_params = _where(match or {})
            clauses.extend(more)
            params.extend(more_params)
        return " AND ".join(clauses), params

    def retry_queue_items(self, now, statuses, ids=None, match=None):
        """Put the chosen items back to pending, due now, with fresh attempts; how many."""
        where, params = self._chosen(statuses, ids, match)
        with self._transaction() as conn:
            return conn.execute(
                "UPDATE sync_queue SET status = 'pending', attempts = 0, nextAttemptAt = ?, "
                f"leaseUntil = NULL, updatedAt = ? WHERE {where}",
                (to_epoch(now), to_epoch(now), *params)).rowcount

    def discard_queue_items(self, statuses, ids=None, match=None):
        """Delete the chosen items from the queue; how many."""
        where, params = self._chosen(statuses, ids, match)
        with self._transaction() as conn:
            return conn.execute(f"DELETE FROM sync_queue WHERE {where}", params).rowcount

    def batch_page(self, since, source=None, statuses=None, before=None, limit=50):
        """Batch logs (no per-item results) started since `since`, newest first.

        `before` is the (startTime, id) keyset cursor of the last row already shown.
        """
        clauses, params = ["startTime >= ?"], [to_epoch(since)]
        if source:
            clauses.append("source = ?")
            params.append(source)
        if statuses:
            clauses.append(f"status IN ({', '.join('?' * len(statuses))})")
            params.extend(statuses)
        if before is not None:
            at, key = before[0], self.parse_id(before[1])
            if key is None:
                return []
            clauses.append("(startTime < ? OR (startTime = ? AND id < ?))")
            params.extend((to_epoch(at), to_epoch(at), key))
        return self._query(
            f"SELECT {BATCH_LIST_COLUMNS} FROM batch_logs WHERE {' AND '.join(clauses)} "
            "ORDER BY startTime DESC, id DESC LIMIT ?", (*params, limit))

    def batch_log(self, key):
        """One batch log with its per-item results by its store id, or None."""
        key = self.parse_id(key)
        if key is None:
            return None
        return self._query_one("SELECT * FROM batch_logs WHERE id = ?", (key,))

    def sync_minutes(self, since):
        """Per minute since `since`: items processed and failed by sync runs."""
        rows = self._query(
            "SELECT CAST(startTime / 60 AS INTEGER) AS minute, SUM(itemCount) AS processed, "
            "SUM(failureCount) AS failed FROM batch_logs "
            "WHERE source IN ('scheduled', 'manual') AND startTime >= ? "
            "GROUP BY minute ORDER BY minute", (to_epoch(since),))
        return [(r["minute"] * 60, r["processed"] or 0, r["failed"] or 0) for r in rows]

    def sync_run_totals(self):
        """Sync runs: how many, their summed duration in seconds, and items applied by them."""
        row = self._query_one(
            "SELECT COUNT(*) AS runs, "
            "COALESCE(SUM(COALESCE(endTime, startTime) - startTime), 0) AS seconds "
            "FROM batch_logs WHERE source IN ('scheduled', 'manual')")
        return {"runs": row["runs"], "seconds": row["seconds"] or 0.0}

    def event_type_counts(self):
        """Applied events by app and type, most frequent first."""
        return self._query(
            "SELECT appId, eventType, n AS count FROM event_type_counts WHERE n > 0 "
            "ORDER BY count DESC, appId, eventType")

    def conflict_counts(self):
        """Conflicts by status."""
        rows = self._query("SELECT status, COUNT(*) AS n FROM conflicts GROUP BY status")
        return {r["status"]: r["n"] for r in rows}

    def rejected_counts(self):
        """Items refused at ingest in the batch logs kept, by source."""
        rows = self._query("SELECT source, SUM(rejectedCount) AS n FROM batch_logs "
                           "WHERE rejectedCount > 0 GROUP BY source")
        return {r["source"]: r["n"] for r in rows}
