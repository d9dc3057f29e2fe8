"""SQLite adapter: sync runs, one row each, so any process can answer about any run."""

from .core import to_row


class SqliteRuns:
    """The sync_runs table: a run's record, its progress rewritten after every batch."""

    DDL = ("""
CREATE TABLE IF NOT EXISTS sync_runs (
    id INTEGER PRIMARY KEY, runId TEXT NOT NULL UNIQUE, source TEXT NOT NULL, requestedBy TEXT,
    host TEXT, pid INTEGER, state TEXT NOT NULL, startedAt REAL NOT NULL, heartbeatAt REAL,
    endedAt REAL, error TEXT, progress TEXT, batches TEXT
);
""",)

    def add_sync_run(self, doc):
        """Store a new run's record."""
        with self._transaction() as conn:
            self._insert(conn, "sync_runs", doc)

    def update_sync_run(self, run_id, changes, durable=True):
        """Change fields of a run's record; True when found. A progress note need not be
        `durable`: a power cut that undoes it also undoes the batch it counted."""
        row = to_row(changes)
        sets = ", ".join(f"{k} = ?" for k in row)
        with self._transaction(durable=durable) as conn:
            cur = conn.execute(f"UPDATE sync_runs SET {sets} WHERE runId = ?",
                               (*row.values(), run_id))
            return cur.rowcount == 1

    def get_sync_run(self, run_id):
        """A run's record, or None."""
        return self._query_one("SELECT * FROM sync_runs WHERE runId = ?", (run_id,))

    def delete_sync_run(self, run_id):
        """Forget a run's record (a run that never got the lease)."""
        with self._transaction() as conn:
            conn.execute("DELETE FROM sync_runs WHERE runId = ?", (run_id,))
