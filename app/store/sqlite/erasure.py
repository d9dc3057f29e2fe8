"""SQLite adapter: deletions, and the bounded steps that erase a person (tables of upgrade
step 5), each in one transaction with secure_delete on, so freed pages are overwritten."""

import time
from contextlib import contextmanager

from .core import dumps, first_value, from_epoch, loads, pack, to_epoch

# A JSON list of ids bound as one parameter: `col IN (SELECT value FROM json_each(?))` uses the
# column's index and has no limit on the number of ids.
IN_IDS = "IN (SELECT value FROM json_each(:ids))"
# A TRUNCATE checkpoint tried this many times, waiting a little longer each time, before the
# deletion leaves it to a later run.
CHECKPOINT_TRIES, CHECKPOINT_PAUSE, CHECKPOINT_WAIT_MS = 6, 0.02, 200
DELETION_TIMES = ("requestedAt", "updatedAt", "finishedAt")
TOMBSTONE = ("INSERT OR IGNORE INTO tombstones (appId, kind, hash, createdAt) "
             "VALUES (?, ?, ?, ?)")


def _deletion(row):
    if row is None:
        return None
    doc = dict(row)
    for key in ("userIds", "counts"):
        if isinstance(doc.get(key), str):
            doc[key] = loads(doc[key])
    for key in DELETION_TIMES:
        if isinstance(doc.get(key), int | float):
            doc[key] = from_epoch(doc[key])
    doc["suppress"] = bool(doc.get("suppress"))
    return doc


def _deletion_row(doc):
    row = dict(doc)
    for key in ("userIds", "counts"):
        if key in row and not isinstance(row[key], str | None):
            row[key] = dumps(row[key])
    for key in DELETION_TIMES:
        if key in row:
            row[key] = to_epoch(row[key])
    if "suppress" in row:
        row["suppress"] = int(bool(row["suppress"]))
    return row


def _plain(conn, sql, params):
    cur = conn.execute(sql, params)
    cur.row_factory = None
    return cur.fetchall()


class SqliteErasure:
    """Deletions, erase steps, tombstones and suppressions on SQLite."""

    def add_deletion(self, doc):
        """Store a new deletion document (its `id` chosen by the caller)."""
        row = _deletion_row(doc)
        with self._transaction() as conn:
            conn.execute(f"INSERT INTO deletions ({', '.join(row)}) "
                         f"VALUES ({', '.join('?' * len(row))})", tuple(row.values()))

    def get_deletion(self, deletion_id):
        """The deletion with this id, or None."""
        return _deletion(self._query_one("SELECT * FROM deletions WHERE id = ?",
                                         (str(deletion_id),)))

    def open_deletions(self, limit):
        """Deletions still pending or running, oldest request first, at most `limit`."""
        rows = self._query(
            "SELECT * FROM (SELECT * FROM deletions WHERE status = 'running' "
            "ORDER BY requestedAt LIMIT :n) UNION ALL SELECT * FROM (SELECT * FROM deletions "
            "WHERE status = 'pending' ORDER BY requestedAt LIMIT :n)", {"n": int(limit)})
        rows = sorted((_deletion(r) for r in rows), key=lambda d: d["requestedAt"])
        return rows[:limit]

    def update_deletion(self, deletion_id, changes):
        """Set fields of a deletion; True when it exists."""
        row = _deletion_row(changes)
        sets = ", ".join(f"{key} = :{key}" for key in row)
        # Secure: the update that ends a deletion overwrites the clear ids it held.
        with self._secure_transaction() as conn:
            return conn.execute(f"UPDATE deletions SET {sets} WHERE id = :deletion_id",
                                {**row, "deletion_id": str(deletion_id)}).rowcount == 1

    def has_deletion(self, app_id, subject):
        """Whether the store records a deletion of the person hashed `subject` in the app."""
        return self._scalar("SELECT 1 FROM deletions WHERE appId = ? AND subject = ? LIMIT 1",
                            (app_id, subject)) is not None

    def replace_audit(self, entry_id, target, details):
        """Overwrite an audit entry's target and details (an erasure's scrubbing)."""
        with self._secure_transaction() as conn:
            conn.execute("UPDATE audit_log SET target = ?, details = ? WHERE id = ?",
                         (target, dumps(details), self.parse_id(entry_id)))

    def person_ids_after(self, app_id, after, limit):
        """The app's distinct userIds and anonymousIds after `after`, in order, at most
        `limit`."""
        sources = (("people", "userId"), ("identities", "anonymousId"),
                   ("telemetry", "userId"), ("telemetry", "anonymousId"),
                   ("sync_queue", "userId"))
        parts = " UNION ".join(
            f"SELECT id FROM (SELECT DISTINCT {col} AS id FROM {table} WHERE appId = :app "
            f"AND {col} > :after ORDER BY {col} LIMIT :n)" for table, col in sources)
        with self._reading() as conn:
            rows = _plain(conn, f"{parts} ORDER BY id LIMIT :n",
                          {"app": app_id, "after": after if after is not None else "",
                           "n": int(limit)})
        return [row[0] for row in rows]

    def flush_erased(self):
        """A TRUNCATE checkpoint: every page in the WAL copied into the file (secure_delete's
        zeros included) and the WAL emptied; False when readers kept it from completing."""
        with self._reading() as conn:
            # A reader's snapshot would hold each try for the whole busy timeout.
            conn.execute(f"PRAGMA busy_timeout = {CHECKPOINT_WAIT_MS}")
            try:
                for attempt in range(CHECKPOINT_TRIES):
                    busy, _log, _done = _plain(conn, "PRAGMA wal_checkpoint(TRUNCATE)", ())[0]
                    if not busy:
                        return True
                    # Busy at once while the background checkpointer runs one of its own.
                    time.sleep(CHECKPOINT_PAUSE * (attempt + 1))
            finally:
                conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
        return False

    def erase_step(self, app_id, user_ids, phase, limit, hasher, now):
        """In one transaction with secure_delete on, erase at most `limit` rows of `phase`
        belonging to `user_ids`, with their tombstones; the number erased."""
        step = getattr(self, f"_erase_{phase}")
        # Not fsynced on its own: the deletion's progress, written durably right after, makes
        # it durable too (and a step a power cut undoes is found again by the next run).
        with self._secure_transaction(durable=False) as conn:
            params = {"app": app_id, "ids": dumps(list(user_ids)), "n": int(limit)}
            return step(conn, params, hasher, to_epoch(now))

    @contextmanager
    def _secure_transaction(self, durable=True):
        """A write transaction with secure_delete on, set here whatever SQLite was built with:
        the content it deletes or rewrites is overwritten with zeros, not left in free space.
        The connection's setting is put back afterwards."""
        conn = self._connection()
        with self._errors():
            before = first_value(conn, "PRAGMA secure_delete")
            conn.execute("PRAGMA secure_delete = ON")
        try:
            with self._transaction(durable=durable) as conn:
                yield conn
        finally:
            with self._errors():
                conn.execute(f"PRAGMA secure_delete = {int(before)}")

    @staticmethod
    def _tombstones(conn, app_id, kind, values, hasher, now):
        if values:
            conn.executemany(TOMBSTONE, [(app_id, kind, h, now) for h in hasher(kind, values)])

    def _erase_events(self, conn, params, hasher, now):
        rows = _plain(conn, f"SELECT id, eventId FROM telemetry WHERE appId = :app "
                            f"AND userId {IN_IDS} LIMIT :n", params)
        if len(rows) < params["n"]:
            rows += _plain(conn, f"SELECT id, eventId FROM telemetry WHERE appId = :app "
                                 f"AND anonymousId {IN_IDS} LIMIT :n",
                           dict(params, n=params["n"] - len(rows)))
        self._tombstones(conn, params["app"], "event", [r[1] for r in rows], hasher, now)
        conn.executemany("DELETE FROM telemetry WHERE id = ?", [(r[0],) for r in rows])
        return len(rows)

    def _erase_queue(self, conn, params, hasher, now):
        rows = _plain(conn, f"SELECT id, itemId, json_extract(itemData, '$.eventId'), batchId "
                            f"FROM sync_queue WHERE appId = :app AND userId {IN_IDS} "
                            "LIMIT :n", params)
        self._tombstones(conn, params["app"], "item", [r[1] for r in rows], hasher, now)
        self._tombstones(conn, params["app"], "event",
                         [r[2] for r in rows if isinstance(r[2], str)], hasher, now)
        # The items leave the results and errors of their batches' logs (whoever sent them).
        by_batch = {}
        for row in rows:
            if row[3] is not None:
                by_batch.setdefault(row[3], set()).add(row[1])
        for batch_id, item_ids in by_batch.items():
            for row_id, results, errors in _plain(
                    conn, "SELECT id, results, errors FROM batch_logs "
                          "WHERE appId = ? AND batchId = ?", (params["app"], batch_id)):
                kept = [[e for e in loads(text) if e.get("itemId") not in item_ids]
                        if text else text for text in (results, errors)]
                conn.execute("UPDATE batch_logs SET results = ?, errors = ? WHERE id = ?",
                             (pack(dumps(kept[0])), dumps(kept[1]), row_id))
        conn.executemany("DELETE FROM sync_queue WHERE id = ?", [(r[0],) for r in rows])
        return len(rows)

    def _erase_conflicts(self, conn, params, hasher, now):
        return conn.execute(f"DELETE FROM conflicts WHERE id IN (SELECT id FROM conflicts "
                            f"WHERE appId = :app AND userId {IN_IDS} LIMIT :n)",
                            params).rowcount

    def _erase_records(self, conn, params, hasher, now):
        # The person's records go with every version and conflict of theirs, whoever wrote it.
        rows = _plain(conn, f"SELECT recordType, recordId FROM records WHERE appId = :app "
                            f"AND userId {IN_IDS} LIMIT :n", params)
        keys = [(params["app"], record_type, record_id) for record_type, record_id in rows]
        where = "appId = ? AND recordType = ? AND recordId = ?"
        conn.executemany(f"DELETE FROM record_versions WHERE {where}", keys)
        conn.executemany(f"DELETE FROM conflicts WHERE {where}", keys)
        conn.executemany(f"DELETE FROM records WHERE {where}", keys)
        return len(rows)

    def _erase_versions(self, conn, params, hasher, now):
        # Versions the person wrote on others' records; such a record forgets who wrote it last.
        rows = _plain(conn, f"SELECT rowid, recordType, recordId FROM record_versions "
                            f"WHERE appId = :app AND userId {IN_IDS} LIMIT :n", params)
        conn.executemany("DELETE FROM record_versions WHERE rowid = ?", [(r[0],) for r in rows])
        conn.executemany(
            f"UPDATE records SET updatedBy = NULL WHERE appId = :app AND recordType = :type "
            f"AND recordId = :id AND updatedBy {IN_IDS}",
            [dict(params, type=r[1], id=r[2]) for r in rows])
        return len(rows)

    def _erase_people(self, conn, params, hasher, now):
        erased = conn.execute(f"DELETE FROM people WHERE rowid IN (SELECT rowid FROM people "
                              f"WHERE appId = :app AND userId {IN_IDS} LIMIT :n)",
                              params).rowcount
        return erased + conn.execute(
            f"DELETE FROM identities WHERE rowid IN (SELECT rowid FROM identities "
            f"WHERE appId = :app AND anonymousId {IN_IDS} LIMIT :n)", params).rowcount

    def _erase_batches(self, conn, params, hasher, now):
        # A batch log keeps its counts; it loses its userId, and the results and errors of
        # every item not known to be someone else's (the queue still holds the person's items,
        # this phase coming first).
        rows = _plain(conn, f"SELECT id, batchId, results, errors FROM batch_logs "
                            f"WHERE appId = :app AND userId {IN_IDS} LIMIT :n", params)
        self._tombstones(conn, params["app"], "batch", [r[1] for r in rows], hasher, now)
        for row_id, batch_id, results, errors in rows:
            others = {r[0] for r in _plain(
                conn, f"SELECT itemId FROM sync_queue WHERE appId = :app AND batchId = :batch "
                      f"AND userId IS NOT NULL AND userId NOT {IN_IDS}",
                dict(params, batch=batch_id))}
            kept = [[e for e in loads(text) if e.get("itemId") in others] if text else text
                    for text in (results, errors)]
            conn.execute("UPDATE batch_logs SET userId = NULL, results = ?, errors = ? "
                         "WHERE id = ?", (pack(dumps(kept[0])), dumps(kept[1]), row_id))
        return len(rows)
