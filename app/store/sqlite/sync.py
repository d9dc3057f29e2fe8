"""SQLite adapter: what the sync engine needs — claims, telemetry, record versions, conflicts.

The engine works inside `unit_of_work()`, one BEGIN IMMEDIATE transaction per claimed batch: the
claim, every write and the batch log commit together or not at all, so a killed process leaves
its items exactly as they were. The write methods below run on this thread's connection and are
meant to be called inside that unit.
"""

import json
import sqlite3
from contextlib import contextmanager

from ..common import int64, unreadable_item
from ..errors import DataRejected, DuplicateKey, StoreUnavailable
from .core import dumps, first_value, from_epoch, loads, to_epoch, to_row
from .events import COUNT_HOURS_SQL

# Open items: the partial index's condition, which the claim repeats word for word so the
# planner can use the index. Spelled as comparisons, not `status IN (...)`: SQLite builds an IN
# list's look-up table anew for each row an executemany inserts, and that alone cost ingest
# about 4 µs per item.
OPEN = "(status = 'pending' OR status = 'processing' OR status = 'failed')"
# Claimable: waiting and due, or claimed by a worker whose lease ran out.
CLAIMABLE = (
    f"{OPEN} AND "
    "CASE status WHEN 'processing' THEN leaseUntil < :now ELSE nextAttemptAt <= :now END"
)
# A claimed item's columns, in the claim's order (eventId computed, attempts counting this one;
# leaseOwner, the claim's token, is the attempts it was claimed at: see finish_items).
CLAIM_COLUMNS = (
    "id", "appId", "itemId", "itemType", "payloadHash", "attempts", "eventId", "clientId", "seq",
    "userId", "priority", "conflictResolution", "batchId", "createdAt", "recordId", "conflictOf",
    "itemData", "meta", "leaseOwner",
)
# The items a claim takes, in claim order: both claims below end with it. The partial index
# walks open items in claim order, so a claim reads about `limit` rows however long the queue
# is (done items leave the index).
CLAIM_FROM = (
    f"FROM sync_queue INDEXED BY sync_queue_claimable WHERE {CLAIMABLE} "
    "ORDER BY priority DESC, id LIMIT :limit"
)
# Each item whole; its `attempts` counts this attempt.
CLAIM_SQL = (
    "SELECT id, appId, itemId, itemType, payloadHash, attempts + 1, "
    # An event's itemId is its eventId, or for a re-used eventId (a variant) conflictOf is.
    "CASE itemType WHEN 'event' THEN COALESCE(conflictOf, itemId) END, clientId, seq, "
    "userId, priority, conflictResolution, batchId, createdAt, recordId, conflictOf, itemData, "
    "meta, attempts " + CLAIM_FROM
)
# The claim of the ApplyNewEvents fast path: each item with whether it is a plain event (no
# seq, and its itemId is its eventId: not a re-used eventId). Nothing else of it is read into
# Python: the telemetry rows are built in SQL (EVENTS_FROM_QUEUE_SQL).
PLAIN_CLAIM_SQL = (
    "SELECT id, appId, itemId, itemType = 'event' AND seq IS NULL AND conflictOf IS NULL "
    + CLAIM_FROM
)
DONE_SQL = (
    "UPDATE sync_queue SET status = 'done', attempts = attempts + 1, lastError = NULL, "
    "leaseUntil = NULL, nextAttemptAt = NULL, updatedAt = ? "
    "WHERE id IN (SELECT value FROM json_each(?))"
)
# An outcome is written only where the claim that made it still holds: where the item's attempts
# are still those it was claimed at (its leaseOwner), as no other claim has settled it since.
FINISH_DONE_SQL = (
    "UPDATE sync_queue SET status = 'done', attempts = attempts + 1, lastError = NULL, "
    "leaseUntil = NULL, nextAttemptAt = NULL, updatedAt = ?1 "
    "WHERE id = ?2 AND (?3 IS NULL OR attempts = ?3)"
)
FINISH_SQL = (
    "UPDATE sync_queue SET status = ?1, attempts = ?2, nextAttemptAt = ?3, lastError = ?4, "
    "leaseUntil = NULL, updatedAt = ?5 WHERE id = ?6 AND (?7 IS NULL OR attempts = ?7)"
)
# The fast path's telemetry: the event a queue item becomes, built in SQL from the stored item
# so a batch of events never passes through Python's JSON codec: the same document as
# sync/documents.py's telemetry_document (tests/sync/test_fast_path.py holds them to it). Its
# time is rounded back to the millisecond ingest kept: julianday() reads it up to ~40 µs off.
EVENTS_FROM_QUEUE_SQL = """
INSERT INTO telemetry (appId, eventId, userId, eventType, eventData, status, metadata,
                       payloadHash, timestamp, createdAt, anonymousId)
SELECT appId, json_extract(itemData, '$.eventId'), userId, json_extract(itemData, '$.eventType'),
       json_extract(itemData, '$.eventData'), 'applied',
       json_set(COALESCE(json_extract(itemData, '$.metadata'), '{}'),
                '$.serverTimestamp', json_extract(meta, '$.timestamp'),
                '$.receivedAt', json_extract(meta, '$.receivedAt'),
                '$.sentAt', json_extract(meta, '$.sentAt'),
                '$.skewMs', json_extract(meta, '$.skewMs'),
                '$.clamped', json(CASE WHEN json_extract(meta, '$.clamped') THEN 'true'
                                       ELSE 'false' END)),
       payloadHash,
       COALESCE(ROUND((julianday(json_extract(meta, '$.timestamp')) - 2440587.5) * 86400000.0)
                / 1000.0, createdAt),
       ?, json_extract(itemData, '$.anonymousId')
FROM sync_queue WHERE id IN (SELECT value FROM json_each(?))
ON CONFLICT (appId, eventId) DO NOTHING
"""
# The events page's counts, raised by the rows one insert added (ids past the largest before
# it, as the unit holds the write lock): one upsert per type instead of a trigger per event.
# NOT INDEXED keeps it on the rowid range; the planner would walk all of telemetry_type_time.
COUNT_EVENTS_SQL = """
INSERT INTO event_type_counts (appId, eventType, n)
SELECT appId, eventType, COUNT(*) FROM telemetry NOT INDEXED WHERE id > ?
GROUP BY appId, eventType
ON CONFLICT (appId, eventType) DO UPDATE SET n = n + excluded.n
"""
# An event SQL stored with a time before year 1 in UTC (a skew-corrected time such as
# 0001-01-01T00:00:00+14:00, which julianday reads): no stored time can hold it, since it could
# never be read back. The insert's rows are those past the largest id before it.
EARLY_EVENT_SQL = (
    "SELECT eventId FROM telemetry NOT INDEXED WHERE id > ? AND timestamp < -62135596800.0 "
    "LIMIT 1"
)
# The portable insert: telemetry documents as sync/documents.py builds them.
INSERT_EVENTS_SQL = (
    "INSERT INTO telemetry (appId, eventId, userId, eventType, eventData, status, metadata, "
    "payloadHash, timestamp, createdAt, anonymousId) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (appId, eventId) DO NOTHING"
)
# SQLite's result codes of a statement that failed on the values it was given rather than on
# the store: malformed JSON in a stored item (SQLITE_ERROR), a value too big, a constraint.
DATA_ERROR_CODES = {sqlite3.SQLITE_ERROR, sqlite3.SQLITE_TOOBIG, sqlite3.SQLITE_CONSTRAINT,
                    sqlite3.SQLITE_MISMATCH, sqlite3.SQLITE_RANGE}
# A conflict without its three values, for lists.
CONFLICT_LIST_COLUMNS = (
    "id, appId, userId, itemId, kind, recordType, recordId, fields, strategy, status, resolvedBy, "
    "resolvedAt, createdAt"
)


class SqliteSync:
    """Claims, event and record writes, conflicts, client sequences and the pull side."""

    DDL = (f"""
DROP INDEX IF EXISTS sync_queue_open;
CREATE INDEX IF NOT EXISTS sync_queue_claimable ON sync_queue (priority DESC, id) WHERE {OPEN};
CREATE INDEX IF NOT EXISTS records_app_changes ON records (appId, changeSeq);
CREATE INDEX IF NOT EXISTS record_versions_item ON record_versions (appId, itemId);
CREATE INDEX IF NOT EXISTS conflicts_app_status ON conflicts (appId, status, id);
""",)

    @contextmanager
    def _data_errors(self):
        """Driver errors translated, with a statement refused for the data it was given raised
        as DataRejected: it would fail the same way again, unlike an unavailable store."""
        try:
            with self._errors():
                yield
        except (StoreUnavailable, DuplicateKey) as exc:
            code = getattr(exc.__cause__, "sqlite_errorcode", None)
            if code is not None and code & 0xFF in DATA_ERROR_CODES:
                raise DataRejected(str(exc.__cause__)) from exc.__cause__
            raise

    def _run(self, sql, params=()):
        with self._errors():
            return self._connection().execute(sql, params)

    # Claims and item outcomes.

    def claim_items(self, now, lease_until, limit):
        """Claim up to `limit` due items (priority high to low, then arrival) for this unit.

        Inside unit_of_work() the transaction's write lock is the claim: no other process can take
        these items before the unit commits their outcomes, and a killed process's unit rolls
        back, leaving them due. So SQLite never shows them `processing` and never needs
        `lease_until`; items another adapter left processing are claimed once their lease ends.
        Each item's `attempts` counts this attempt. A row that cannot be read back comes as an
        unreadable item (store/common.py) for the engine to settle: it never stops the claim of
        the others.
        """
        with self._errors():
            cur = self._connection().execute(CLAIM_SQL, {"now": to_epoch(now), "limit": limit})
            cur.row_factory = None
            rows = cur.fetchall()
        return [self._claimed(row) for row in rows]

    def _claimed(self, row):
        try:
            return self._read_claimed(row)
        except Exception as exc:
            return unreadable_item(row[0], row[1], row[2], row[5], exc, leaseOwner=row[-1])

    def _read_claimed(self, row):
        """A claimed row (CLAIM_COLUMNS) as an item; raises when a stored value cannot be read
        back."""
        item = dict(zip(CLAIM_COLUMNS, row, strict=True))
        item["itemData"] = loads(item["itemData"])
        item["meta"] = loads(item["meta"]) if item["meta"] else {}
        item["createdAt"] = from_epoch(item["createdAt"])
        return item

    def _apply_new_events(self, now, limit):
        """The ApplyNewEvents capability (store/port/sync.py): the common batch in one go, for
        this unit. Claims up to `limit` due items like claim_items and, when every one is a
        plain event (no seq, its eventId not re-used) that is not stored yet, stores them as
        telemetry, built in SQL, and marks them done.

        Returns their (appId, itemId) pairs in claim order; [] when nothing is due; None when
        the batch is not such a batch, having changed nothing: the engine then claims it item
        by item. No Python object is made per item beyond those pairs, which makes bench/drain
        25-30 % faster than the engine's own path.
        """
        with self._data_errors():
            conn = self._connection()
            cur = conn.execute(PLAIN_CLAIM_SQL, {"now": to_epoch(now), "limit": limit})
            cur.row_factory = None
            rows = cur.fetchall()
            if not rows:
                return []
            if not all(row[3] for row in rows):
                return None
            ids = json.dumps([row[0] for row in rows])
            last_id, stored = self._insert_queued_events(conn, ids, now)
            if stored != len(rows):
                # One was stored already: take the others back (their delete trigger takes
                # their counts back too).
                conn.execute("DELETE FROM telemetry WHERE id > ?", (last_id,))
                return None
            conn.execute(DONE_SQL, (to_epoch(now), ids))
        return [(row[1], row[2]) for row in rows]

    def finish_items(self, updates, now):
        """Write claimed items' outcomes (id, status, attempts, nextAttemptAt, lastError) where
        the claim that made them still holds: a late outcome of an item claimed and settled
        again since (its claim's unit was lost, or outlived) changes nothing. Inside the
        claim's own unit it always holds."""
        stamp = to_epoch(now)
        done = [(stamp, u["id"], u.get("leaseOwner")) for u in updates if u["status"] == "done"]
        others = [(u["status"], u["attempts"], to_epoch(u.get("nextAttemptAt")),
                   u.get("lastError"), stamp, u["id"], u.get("leaseOwner"))
                  for u in updates if u["status"] != "done"]
        with self._errors():
            conn = self._connection()
            if done:
                conn.executemany(FINISH_DONE_SQL, done)
            if others:
                conn.executemany(FINISH_SQL, others)

    def set_item_status(self, app_id, item_id, status, now, last_error=None):
        """Set one queue item's status (a resolved conflict's item becomes done)."""
        self._run("UPDATE sync_queue SET status = ?, lastError = ?, leaseUntil = NULL, "
                  "updatedAt = ? WHERE appId = ? AND itemId = ?",
                  (status, last_error, to_epoch(now), app_id, item_id))

    def add_sync_log(self, doc):
        """Store a sync run's batch log."""
        with self._errors():
            self._insert(self._connection(), "batch_logs", doc)

    # Telemetry.

    def event_hashes(self, app_id, event_ids):
        """payloadHash of the stored events among `event_ids`, by eventId."""
        with self._errors():
            return dict(self._rows_for_ids(
                self._connection(), "SELECT eventId, payloadHash FROM telemetry "
                "WHERE appId = ? AND eventId IN ({marks})", app_id, list(event_ids)))

    def insert_events(self, docs):
        """Store telemetry documents (sync/documents.py builds them); an (appId, eventId)
        already there is kept. Raises DataRejected when one cannot be stored."""
        with self._data_errors():
            rows = [(d["appId"], d["eventId"], d.get("userId"), d["eventType"],
                     dumps(d["eventData"]), d.get("status", "applied"), dumps(d.get("metadata")),
                     d.get("payloadHash"), to_epoch(d.get("timestamp")), to_epoch(d["createdAt"]),
                     d.get("anonymousId"))
                    for d in docs]
            conn = self._connection()
            last_id = self._last_event_id(conn)
            conn.executemany(INSERT_EVENTS_SQL, rows)
            self._count_events(conn, last_id)

    @staticmethod
    def _last_event_id(conn):
        return first_value(conn, "SELECT COALESCE(MAX(id), 0) FROM telemetry")

    @classmethod
    def _insert_queued_events(cls, conn, ids, now):
        """Insert and count the events of the queue items `ids` (a JSON array); returns (the
        largest telemetry id before, rows stored)."""
        last_id = cls._last_event_id(conn)
        stored = conn.execute(EVENTS_FROM_QUEUE_SQL, (to_epoch(now), ids)).rowcount
        cls._count_events(conn, last_id)
        return last_id, stored

    @staticmethod
    def _count_events(conn, last_id):
        """Count the events stored past telemetry id `last_id` (inside unit_of_work() the write
        lock is held, so they are this insert's rows). Raises DataRejected, having inserted
        some, when one of them has a time that could not be read back."""
        early = first_value(conn, EARLY_EVENT_SQL, (last_id,))
        if early is not None:
            # The caller's unit (or savepoint) takes the insert back.
            raise DataRejected(f"event {early}: its time is before year 1 in UTC, which no "
                               "stored time can hold")
        conn.execute(COUNT_EVENTS_SQL, (last_id,))
        conn.execute(COUNT_HOURS_SQL, (last_id,))

    def get_event(self, app_id, event_id):
        """The stored telemetry event, or None."""
        with self._errors():
            return self._connection().execute(
                "SELECT * FROM telemetry WHERE appId = ? AND eventId = ?",
                (app_id, event_id)).fetchone()

    def replace_event(self, app_id, event_id, changes):
        """Overwrite fields of a stored event (a resolved payload conflict)."""
        row = to_row(changes)
        sets = ", ".join(f"{k} = ?" for k in row)
        self._run(f"UPDATE telemetry SET {sets} WHERE appId = ? AND eventId = ?",
                  (*row.values(), app_id, event_id))

    def event_counts(self, app_id, start=None, end=None):
        """Event counts by type and by (UTC) day, with `start` <= timestamp < `end`."""
        where, params = ["appId = ?"], [app_id]
        if start is not None:
            where.append("timestamp >= ?")
            params.append(to_epoch(start))
        if end is not None:
            where.append("timestamp < ?")
            params.append(to_epoch(end))
        clause = " AND ".join(where)
        by_type = self._query(f"SELECT eventType, COUNT(*) AS count FROM telemetry WHERE {clause} "
                             "GROUP BY eventType ORDER BY count DESC, eventType", params)
        by_day = self._query(
            "SELECT date(timestamp, 'unixepoch') AS day, eventType, COUNT(*) AS count "
            f"FROM telemetry WHERE {clause} GROUP BY day, eventType ORDER BY day, eventType",
            params)
        return by_type, by_day

    # Records and their versions.

    def get_record(self, app_id, record_type, record_id):
        """The current record, or None."""
        with self._reading() as conn:
            return conn.execute(
                "SELECT * FROM records WHERE appId = ? AND recordType = ? AND recordId = ?",
                (app_id, record_type, record_id)).fetchone()

    def get_record_version(self, app_id, record_type, record_id, version):
        """One version of a record from its history, or None."""
        with self._reading() as conn:
            return conn.execute(
                "SELECT * FROM record_versions WHERE appId = ? AND recordType = ? "
                "AND recordId = ? AND version = ?",
                (app_id, record_type, record_id, version)).fetchone()

    def version_written_by(self, app_id, item_id):
        """The record version a queue item wrote, or None (re-applying an item is a no-op)."""
        with self._reading() as conn:
            return conn.execute(
                "SELECT * FROM record_versions WHERE appId = ? AND itemId = ?",
                (app_id, item_id)).fetchone()

    def write_record(self, doc, expected_version):
        """Store `doc` as the record's next version when it is still at `expected_version`.

        Every version, the first included, is kept in record_versions. The record's changeSeq
        takes the app's next change number, the pull side's checkpoint.
        """
        with self._errors():
            conn = self._connection()
            change_seq = first_value(conn, "SELECT COALESCE(MAX(changeSeq), 0) + 1 FROM records "
                                     "WHERE appId = ?", (doc["appId"],))
            key = (doc["appId"], doc["recordType"], doc["recordId"])
            values = (doc.get("userId"), doc["version"], dumps(doc["data"]),
                      to_epoch(doc["updatedAt"]), doc.get("updatedBy"), change_seq)
            if expected_version == 0:
                conn.execute(
                    "INSERT INTO records (appId, recordType, recordId, userId, version, data, "
                    "updatedAt, updatedBy, changeSeq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (*key, *values))
            else:
                cur = conn.execute(
                    "UPDATE records SET userId = ?, version = ?, data = ?, updatedAt = ?, "
                    "updatedBy = ?, changeSeq = ? WHERE appId = ? AND recordType = ? "
                    "AND recordId = ? AND version = ?", (*values, *key, expected_version))
                if cur.rowcount != 1:
                    raise StoreUnavailable(f"record {key} changed while it was written")
            conn.execute(
                "INSERT INTO record_versions (appId, recordType, recordId, version, data, "
                "updatedAt, updatedBy, itemId, userId) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*key, doc["version"], dumps(doc["data"]), to_epoch(doc["updatedAt"]),
                 doc.get("updatedBy"), doc.get("itemId"), doc.get("userId")))
        return dict(doc, changeSeq=change_seq)

    def records_changed(self, app_id, record_type=None, since=0, limit=100):
        """Records changed after checkpoint `since`, oldest change first."""
        if record_type is None:
            return self._query("SELECT * FROM records WHERE appId = ? AND changeSeq > ? "
                              "ORDER BY changeSeq LIMIT ?", (app_id, since, limit))
        return self._query("SELECT * FROM records WHERE appId = ? AND recordType = ? "
                          "AND changeSeq > ? ORDER BY changeSeq LIMIT ?",
                          (app_id, record_type, since, limit))

    # Conflicts.

    def add_conflict(self, doc):
        """Store a conflict; returns it with its id."""
        row = dict(doc)
        if isinstance(row.get("resolution"), str):
            row["resolution"] = json.dumps(row["resolution"])
        with self._errors():
            return dict(doc, id=self._insert(self._connection(), "conflicts", row))

    def get_conflict(self, app_id, conflict_id):
        """A conflict by id, or None; app_id None finds any app's."""
        cid = int64(conflict_id)
        if cid is None:
            return None
        if app_id is None:
            return self._query_one("SELECT * FROM conflicts WHERE id = ?", (cid,))
        return self._query_one("SELECT * FROM conflicts WHERE id = ? AND appId = ?", (cid, app_id))

    def list_conflicts(self, app_id=None, status=None, limit=50, before_id=None, values=True):
        """Conflicts newest first, keyset-paginated by id (`before_id` from the previous page);
        app_id None lists every app's; `values` False leaves out base, server and client."""
        where, params = [], []
        if app_id is not None:
            where.append("appId = ?")
            params.append(app_id)
        if status is not None:
            where.append("status = ?")
            params.append(status)
        if before_id is not None:
            cid = int64(before_id)
            if cid is None:
                return []
            where.append("id < ?")
            params.append(cid)
        sql = f"SELECT {'*' if values else CONFLICT_LIST_COLUMNS} FROM conflicts"
        if where:
            sql += " WHERE " + " AND ".join(where)
        return self._query(sql + " ORDER BY id DESC LIMIT ?", (*params, limit))

    def close_conflict(self, conflict_id, resolution, resolved_by, at):
        """Mark an open conflict resolved; False when it was not open (someone was first)."""
        cur = self._run(
            "UPDATE conflicts SET status = 'resolved', resolution = ?, resolvedBy = ?, "
            "resolvedAt = ? WHERE id = ? AND status = 'open'",
            (json.dumps(resolution), resolved_by, to_epoch(at), int64(conflict_id)))
        return cur.rowcount == 1

    # Per-client sequence numbers.

    def client_seqs(self, app_id, client_ids):
        """The last applied seq of each of an app's clients that has one."""
        ids = list(client_ids)
        with self._errors():
            cur = self._connection().execute(
                "SELECT clientId, lastSeq FROM client_seqs WHERE appId = ? AND clientId IN "
                f"({', '.join('?' * len(ids))})", (app_id, *ids))
            cur.row_factory = None
            return dict(cur)

    def save_client_seqs(self, app_id, seqs):
        """Raise the stored last seq of each client to the given one (never lower it)."""
        with self._errors():
            self._connection().executemany(
                "INSERT INTO client_seqs (appId, clientId, lastSeq) VALUES (?, ?, ?) "
                "ON CONFLICT (appId, clientId) "
                "DO UPDATE SET lastSeq = MAX(lastSeq, excluded.lastSeq)",
                [(app_id, client_id, seq) for client_id, seq in seqs.items()])

    def sync_logs(self, limit=100):
        """Sync runs' batch logs (source scheduled or manual), newest first."""
        return self._query("SELECT * FROM batch_logs WHERE source IN ('scheduled', 'manual') "
                          "ORDER BY startTime DESC LIMIT ?", (limit,))
