"""SQLite adapter: removing what is older than the retention period (RETENTION_DAYS)."""

from .core import to_epoch

# Rows looked at per transaction, so writers wait only briefly for the lock.
CHUNK = 5000
# Table -> (when a row may go, when it arrived). Ids grow with arrival, so the walk goes from
# the lowest id and stops at the first row that arrived after the cut-off.
PRUNABLE = {
    "telemetry": ("createdAt < :cut", "createdAt"),
    "batch_logs": ("startTime < :cut", "startTime"),
    "sync_queue": ("status = 'done' AND updatedAt < :cut", "createdAt"),
    "sync_runs": ("startedAt < :cut", "startedAt"),
}


class SqliteRetention:
    """Deletes applied events, batch logs, done queue items and sync runs older than a cut-off."""

    def prune_expired(self, before):
        """Delete rows older than `before`, oldest first; returns the count per table."""
        cut = to_epoch(before)
        removed = {}
        for table, (expired, arrival) in PRUNABLE.items():
            removed[table] = 0
            last_id = 0
            while True:
                with self._transaction() as conn:
                    cur = conn.execute(
                        f"SELECT id, {expired}, {arrival} < :cut FROM {table} "
                        "WHERE id > :last ORDER BY id LIMIT :chunk",
                        {"cut": cut, "last": last_id, "chunk": CHUNK})
                    cur.row_factory = None
                    rows = cur.fetchall()
                    doomed = [(row_id,) for row_id, old, _arrived in rows if old]
                    conn.executemany(f"DELETE FROM {table} WHERE id = ?", doomed)
                    removed[table] += len(doomed)
                if len(rows) < CHUNK or not rows[-1][2]:
                    break
                last_id = rows[-1][0]
        return removed
