"""SQLite adapter: the suppression list and tombstones (store step 5's tables), by primary key."""

from contextlib import contextmanager

from .core import ID_CHUNK, first_value, from_epoch, to_epoch


class SqlitePrivacy:
    """Suppressions and tombstones: each look-up an index probe, each write one statement.

    The writes join the caller's unit_of_work() when there is one (an erasure writes its
    tombstones in the transaction that deletes the rows), else commit on their own."""

    @contextmanager
    def _privacy_write(self):
        conn = self._connection()
        if conn.in_transaction:
            with self._errors():
                yield conn
        else:
            with self._transaction() as conn:
                yield conn

    def privacy_marks(self, app_id):
        """(any suppression in the app, any tombstone in the app): two EXISTS on the keys."""
        with self._reading() as conn:
            cur = conn.execute(
                "SELECT EXISTS (SELECT 1 FROM suppressions WHERE appId = ?), "
                "EXISTS (SELECT 1 FROM tombstones WHERE appId = ?)", (app_id, app_id))
            cur.row_factory = None
            suppressions, tombstones = cur.fetchone()
        return bool(suppressions), bool(tombstones)

    def suppressed_among(self, app_id, subjects):
        """The suppressed person hashes among `subjects`."""
        subjects = list(dict.fromkeys(subjects))
        if not subjects:
            return set()
        with self._reading() as conn:
            return {row[0] for row in self._rows_for_ids(
                conn, "SELECT subject FROM suppressions WHERE appId = ? AND subject IN ({marks})",
                app_id, subjects)}

    def tombstoned_among(self, app_id, kind, hashes):
        """The tombstoned hashes among `hashes`, of `kind` (one kind or several)."""
        kinds = [kind] if isinstance(kind, str) else list(kind)
        hashes = list(dict.fromkeys(hashes))
        if not hashes or not kinds:
            return set()
        found = set()
        with self._reading() as conn:
            for start in range(0, len(hashes), ID_CHUNK):
                chunk = hashes[start:start + ID_CHUNK]
                cur = conn.execute(
                    f"SELECT hash FROM tombstones WHERE appId = ? "
                    f"AND kind IN ({', '.join('?' * len(kinds))}) "
                    f"AND hash IN ({', '.join('?' * len(chunk))})", (app_id, *kinds, *chunk))
                cur.row_factory = None
                found.update(row[0] for row in cur)
        return found

    def add_suppression(self, app_id, subject, at):
        """Suppress a person hash; False when it already was."""
        with self._privacy_write() as conn:
            cur = conn.execute("INSERT INTO suppressions (appId, subject, createdAt) "
                               "VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                               (app_id, subject, to_epoch(at)))
            return cur.rowcount == 1

    def lift_suppression(self, app_id, subject):
        """Lift a suppression; False when there was none."""
        with self._privacy_write() as conn:
            cur = conn.execute("DELETE FROM suppressions WHERE appId = ? AND subject = ?",
                               (app_id, subject))
            return cur.rowcount == 1

    def is_suppressed(self, app_id, subject):
        """When the person hash was suppressed, or None."""
        with self._reading() as conn:
            at = first_value(conn, "SELECT createdAt FROM suppressions "
                                   "WHERE appId = ? AND subject = ?", (app_id, subject))
        return None if at is None else from_epoch(at)

    def suppression_count(self, app_id):
        """How many people are suppressed in the app."""
        with self._reading() as conn:
            return first_value(conn, "SELECT COUNT(*) FROM suppressions WHERE appId = ?",
                               (app_id,))

    def add_tombstones(self, app_id, kind, hashes, at):
        """Tombstone hashes of one kind; how many were new."""
        rows = [(app_id, kind, digest, to_epoch(at)) for digest in dict.fromkeys(hashes)]
        if not rows:
            return 0
        with self._privacy_write() as conn:
            before = conn.total_changes
            conn.executemany("INSERT INTO tombstones (appId, kind, hash, createdAt) "
                             "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING", rows)
            return conn.total_changes - before
