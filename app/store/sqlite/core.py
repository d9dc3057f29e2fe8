"""SQLite adapter core: connections, transactions, schema, and the rows' conversion to documents."""

import json
import logging
import os
import sqlite3
import threading
import zlib
from contextlib import contextmanager
from datetime import UTC, datetime

import orjson

from ..common import Capabilities, int64
from ..errors import DuplicateKey, StoreUnavailable
from .checkpoint import Checkpointer
from .openlock import OpenLock

log = logging.getLogger("prepmate.store")

# Columns holding JSON text, and columns holding times (epoch seconds as REAL), per table.
JSON_COLUMNS = {
    "itemData", "meta", "eventData", "metadata", "errors", "results", "data", "base", "server",
    "client", "fields", "resolution", "details", "scopes", "progress", "batches",
    "traits", "traitTimes", "anonymousIds", "groups",
}
TIME_COLUMNS = {
    "createdAt", "updatedAt", "nextAttemptAt", "leaseUntil", "startTime", "endTime", "lastUsedAt",
    "revokedAt", "lastLoginAt", "resolvedAt", "at", "until", "timestamp", "receivedAt", "sentAt",
    "startedAt", "heartbeatAt", "endedAt", "appliedAt", "firstSeen", "lastSeen",
}

CORE_DDL = """
CREATE TABLE IF NOT EXISTS api_keys (
    keyId TEXT PRIMARY KEY, appId TEXT NOT NULL, name TEXT, prefix TEXT NOT NULL,
    keyHash TEXT NOT NULL UNIQUE, scopes TEXT NOT NULL, createdAt REAL NOT NULL,
    lastUsedAt REAL, revokedAt REAL
);
CREATE TABLE IF NOT EXISTS users (
    username TEXT PRIMARY KEY, passwordHash TEXT NOT NULL, role TEXT NOT NULL,
    createdAt REAL NOT NULL, lastLoginAt REAL
);
CREATE TABLE IF NOT EXISTS audit_log (
    id INTEGER PRIMARY KEY, at REAL NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
    target TEXT, details TEXT
);
CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log (at);
CREATE TABLE IF NOT EXISTS locks (name TEXT PRIMARY KEY, owner TEXT NOT NULL, until REAL NOT NULL);
CREATE TABLE IF NOT EXISTS sync_queue (
    id INTEGER PRIMARY KEY,
    appId TEXT NOT NULL, itemId TEXT NOT NULL, userId TEXT, itemType TEXT NOT NULL,
    itemData TEXT NOT NULL, meta TEXT, status TEXT NOT NULL, priority INTEGER NOT NULL DEFAULT 0,
    conflictResolution TEXT, attempts INTEGER NOT NULL DEFAULT 0, nextAttemptAt REAL,
    lastError TEXT, batchId TEXT, leaseUntil REAL, createdAt REAL NOT NULL,
    updatedAt REAL NOT NULL, payloadHash TEXT NOT NULL, clientId TEXT, seq INTEGER,
    recordId TEXT, conflictOf TEXT,
    UNIQUE (appId, itemId)
);
-- Claims walk the sync engine's partial index of open items (app/store/sqlite/sync.py).
DROP INDEX IF EXISTS sync_queue_claim;
CREATE INDEX IF NOT EXISTS sync_queue_status_id ON sync_queue (status, id);
CREATE INDEX IF NOT EXISTS sync_queue_user ON sync_queue (appId, userId, status);
CREATE INDEX IF NOT EXISTS sync_queue_batch ON sync_queue (appId, batchId);
CREATE TABLE IF NOT EXISTS batch_logs (
    id INTEGER PRIMARY KEY, batchId TEXT NOT NULL, appId TEXT, userId TEXT, clientId TEXT,
    source TEXT NOT NULL, itemCount INTEGER NOT NULL DEFAULT 0,
    successCount INTEGER NOT NULL DEFAULT 0, failureCount INTEGER NOT NULL DEFAULT 0,
    duplicateCount INTEGER NOT NULL DEFAULT 0, conflictCount INTEGER NOT NULL DEFAULT 0,
    rejectedCount INTEGER NOT NULL DEFAULT 0, startTime REAL NOT NULL, endTime REAL,
    sentAt REAL, status TEXT NOT NULL, errors TEXT, results TEXT,
    UNIQUE (appId, batchId)
);
CREATE INDEX IF NOT EXISTS batch_logs_start ON batch_logs (startTime);
CREATE INDEX IF NOT EXISTS batch_logs_source ON batch_logs (source, startTime);
CREATE TABLE IF NOT EXISTS telemetry (
    id INTEGER PRIMARY KEY, appId TEXT NOT NULL, eventId TEXT NOT NULL, userId TEXT,
    eventType TEXT NOT NULL, eventData TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'applied',
    metadata TEXT, payloadHash TEXT, timestamp REAL, createdAt REAL NOT NULL,
    UNIQUE (appId, eventId)
);
CREATE INDEX IF NOT EXISTS telemetry_type_time ON telemetry (appId, eventType, timestamp);
CREATE TABLE IF NOT EXISTS records (
    appId TEXT NOT NULL, recordType TEXT NOT NULL, recordId TEXT NOT NULL, userId TEXT,
    version INTEGER NOT NULL, data TEXT NOT NULL, updatedAt REAL NOT NULL, updatedBy TEXT,
    changeSeq INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (appId, recordType, recordId)
);
CREATE INDEX IF NOT EXISTS records_changes ON records (appId, recordType, changeSeq);
CREATE TABLE IF NOT EXISTS record_versions (
    appId TEXT NOT NULL, recordType TEXT NOT NULL, recordId TEXT NOT NULL,
    version INTEGER NOT NULL, data TEXT NOT NULL, updatedAt REAL NOT NULL, updatedBy TEXT,
    itemId TEXT,
    PRIMARY KEY (appId, recordType, recordId, version)
);
CREATE TABLE IF NOT EXISTS conflicts (
    id INTEGER PRIMARY KEY, appId TEXT NOT NULL, itemId TEXT NOT NULL, kind TEXT NOT NULL,
    recordType TEXT, recordId TEXT, base TEXT, server TEXT, client TEXT, fields TEXT,
    strategy TEXT, status TEXT NOT NULL, resolution TEXT, resolvedBy TEXT, resolvedAt REAL,
    createdAt REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS conflicts_status ON conflicts (status, id);
CREATE TABLE IF NOT EXISTS client_seqs (
    appId TEXT NOT NULL, clientId TEXT NOT NULL, lastSeq INTEGER NOT NULL,
    PRIMARY KEY (appId, clientId)
);
"""


# The upgrade steps applied to the store (app/store/schema.py).
VERSIONS_DDL = """CREATE TABLE IF NOT EXISTS schema_versions (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, release TEXT NOT NULL,
    appliedAt REAL NOT NULL
)"""


FIRST_INSTANT = datetime.min.replace(tzinfo=UTC)
LAST_INSTANT = datetime.max.replace(tzinfo=UTC)
# One encoder for every row: json.dumps with options builds a new encoder per call.
COMPACT = json.JSONEncoder(separators=(",", ":"))


# Ids looked up in one IN (...) list at the most.
ID_CHUNK = 500


def to_epoch(value):
    """A datetime (or None) as epoch seconds for storage."""
    if value is None or isinstance(value, int | float):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def from_epoch(value):
    """Epoch seconds from storage as an aware UTC datetime.

    Ingest admits only times inside the calendar, but seconds held in a double can round past
    its ends (9999-12-31T23:59:59.999999 is stored as the first second of year 10000, and the
    SQL that stores events computes through julianday): such a time reads as the calendar's
    first or last instant rather than failing every read of its row.
    """
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, ValueError, OSError):
        return LAST_INSTANT if value > 0 else FIRST_INSTANT


def dumps(value):
    """Compact JSON text, or None (orjson; the standard library for what it declines)."""
    if value is None:
        return None
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return COMPACT.encode(value)


# Columns whose JSON is stored zlib-compressed (upgrade step 7) once it is PACK_FROM bytes or
# more: a batch log's per-item results, about 80-100 bytes of JSON per item and per log (each
# event is in a client batch's log and a sync run's), which compress to about 18 (their ids
# share most of their characters). Shorter values, and those of older stores, stay text.
PACKED_COLUMNS = {"results"}
PACK_FROM = 512


def pack(text):
    """A packed column's stored value for its JSON text: compressed bytes when long enough."""
    if text is None or len(text) < PACK_FROM:
        return text
    return zlib.compress(text.encode(), 1)


def loads(text):
    """A JSON column's value (orjson; the standard library for what it declines), from its
    text or, for a packed column, its compressed bytes."""
    if isinstance(text, bytes):
        text = zlib.decompress(text)
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def to_row(doc):
    """A document's values made storable: JSON columns as text, times as epoch seconds."""
    row = {}
    for key, value in doc.items():
        if key in JSON_COLUMNS:
            if not isinstance(value, str | None):
                value = dumps(value)
            if key in PACKED_COLUMNS:
                value = pack(value)
        elif key in TIME_COLUMNS:
            value = to_epoch(value)
        row[key] = value
    return row


def first_value(conn, sql, params=()):
    """The first column of the first row of a query on `conn` (None without a row), read
    without building a document, inside whatever transaction `conn` is in."""
    cur = conn.execute(sql, params)
    cur.row_factory = None
    row = cur.fetchone()
    return None if row is None else row[0]


def to_doc(cursor, row):
    """sqlite3 row factory: a row as a document with JSON parsed and times as datetimes."""
    doc = {}
    for (name, *_), value in zip(cursor.description, row, strict=True):
        if value is not None:
            if name in JSON_COLUMNS:
                value = loads(value)
            elif name in TIME_COLUMNS:
                value = from_epoch(value)
        doc[name] = value
    return doc


class SqliteCore(Capabilities):
    """Connections (one per thread and process), transactions and schema for the SQLite store."""

    kind = "sqlite"
    DDL = (CORE_DDL,)
    # SQLite's own checkpoint in the committing writer: the backstop behind the background
    # checkpointer (checkpoint.py), and what restarts the WAL from its beginning. At SQLite's
    # default of 1,000 pages it ran every few sync batches, each time with its fsyncs; at
    # 4,000 (a WAL of about 16 MB) the drain applied 10-20 % more items per second.
    wal_autocheckpoint_pages = 4000

    def __init__(self, path, synchronous="FULL", busy_timeout_ms=10000):
        self.path = path
        # FULL: every write transaction is on disk before it returns, as with SQLite's own FULL,
        # but the WAL is fsynced after COMMIT has released the write lock. Writers then never
        # queue behind another's fsync, and one fsync makes every commit before it durable.
        self.sync_after_commit = synchronous.upper() == "FULL"
        self.synchronous = "NORMAL" if self.sync_after_commit else synchronous
        self.busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        self.checkpointer = Checkpointer(path, self.synchronous)
        self.open_lock = OpenLock(path)

    def _connection(self):
        """This thread's connection, opened on first use (and anew after a fork, or once a
        restore has closed every connection), under the open lock (openlock.py)."""
        local = self._local
        conn = getattr(local, "conn", None)
        if (conn is None or local.pid != os.getpid()
                or local.generation != self.open_lock.generation):
            if conn is not None and local.pid == os.getpid() and local.wal_fd is not None:
                os.close(local.wal_fd)  # every connection was closed (a restore)
                local.wal_fd = None
            try:
                os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
                handle = self.open_lock.connect(lambda: sqlite3.connect(
                    self.path, isolation_level=None, check_same_thread=False,
                    timeout=self.busy_timeout_ms / 1000,
                ), self.busy_timeout_ms / 1000)
                conn = handle.conn
                mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if mode != "wal" and self.sync_after_commit:
                    # No WAL to fsync (a file system without shared memory): SQLite's own FULL.
                    self.sync_after_commit, self.synchronous = False, "FULL"
                conn.execute(f"PRAGMA synchronous={self.synchronous}")
                conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_ms)}")
                conn.execute(f"PRAGMA wal_autocheckpoint={int(self.wal_autocheckpoint_pages)}")
                conn.execute("PRAGMA foreign_keys=ON")
            except (sqlite3.Error, OSError) as exc:
                raise StoreUnavailable(f"cannot open SQLite at {self.path}: {exc}") from exc
            conn.row_factory = to_doc
            local.conn, local.pid, local.wal_fd = conn, os.getpid(), None
            local.handle, local.generation = handle, self.open_lock.generation
        return conn

    def _sync_wal(self):
        """fsync the WAL (fdatasync, as SQLite does): every transaction committed so far is then
        durable. The file stays open beside this thread's connection, which keeps SQLite from
        deleting it."""
        local = self._local
        try:
            if local.wal_fd is None:
                # The WAL's own directory entry first, once: a WAL made since the last
                # checkpoint could otherwise vanish with everything in it.
                folder = os.open(os.path.dirname(os.path.abspath(self.path)), os.O_RDONLY)
                try:
                    os.fsync(folder)
                finally:
                    os.close(folder)
                local.wal_fd = os.open(f"{self.path}-wal", os.O_RDONLY | os.O_CLOEXEC)
            os.fdatasync(local.wal_fd)
        except OSError as exc:
            raise StoreUnavailable(f"cannot fsync the SQLite WAL of {self.path}: {exc}") from exc

    @contextmanager
    def _errors(self):
        try:
            yield
        except sqlite3.IntegrityError as exc:
            raise DuplicateKey(str(exc)) from exc
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"SQLite store unavailable: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            raise StoreUnavailable(f"SQLite store error: {exc}") from exc

    @contextmanager
    def _transaction(self, durable=True):
        """A write transaction that takes the write lock up front (BEGIN IMMEDIATE).

        With SQLITE_SYNCHRONOUS=FULL it is on disk when the block ends, unless `durable` is
        False: for work that is redone rather than lost if a power cut undoes it (atomicity is
        kept either way, and the next durable commit's fsync covers it too)."""
        conn = self._connection()
        with self._errors():
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        if durable and self.sync_after_commit:
            self._sync_wal()
        self.checkpointer.notify()

    @contextmanager
    def unit_of_work(self, durable=True):
        """One atomic unit of work (a transaction): the store operations called inside it, on
        this thread, commit together or not at all; yields nothing useful.

        With SQLITE_SYNCHRONOUS=FULL it is on disk when the block ends, unless `durable` is
        False: the sync engine's units are not fsynced on their own, since one that a power cut
        undoes leaves its items due, exactly as before it ran, and the engine applies them again.
        """
        with self._transaction(durable=durable):
            yield

    @contextmanager
    def savepoint(self):
        """A nested unit inside unit_of_work(): undone alone when the block raises."""
        conn = self._connection()
        with self._errors():
            conn.execute("SAVEPOINT item")
            try:
                yield
            except BaseException:
                conn.execute("ROLLBACK TO item")
                conn.execute("RELEASE item")
                raise
            conn.execute("RELEASE item")

    @contextmanager
    def _reading(self):
        """A connection for reads, with driver errors translated."""
        conn = self._connection()
        with self._errors():
            yield conn

    def _query(self, sql, params=()):
        """All rows of a read query as documents."""
        with self._reading() as conn:
            return conn.execute(sql, params).fetchall()

    def _query_one(self, sql, params=()):
        """The first row of a read query as a document, or None."""
        with self._reading() as conn:
            return conn.execute(sql, params).fetchone()

    @staticmethod
    def _rows_for_ids(conn, sql, app_id, ids):
        """Plain row tuples of `sql` (its `{marks}` the placeholders of `ids`, after `app_id`),
        the ids looked up in chunks well below SQLite's 32766 bound parameters."""
        for start in range(0, len(ids), ID_CHUNK):
            chunk = ids[start:start + ID_CHUNK]
            cur = conn.execute(sql.format(marks=", ".join("?" * len(chunk))), (app_id, *chunk))
            cur.row_factory = None
            yield from cur

    def _scalar(self, sql, params=()):
        """The first column of the first row of a read query."""
        with self._reading() as conn:
            return first_value(conn, sql, params)

    def _insert(self, conn, table, doc):
        """Insert one document into a table inside a transaction; returns its rowid."""
        row = to_row(doc)
        cols = ", ".join(row)
        marks = ", ".join("?" * len(row))
        return conn.execute(
            f"INSERT INTO {table} ({cols}) VALUES ({marks})", tuple(row.values())
        ).lastrowid

    # The schema (app/store/schema.py): the version is the last step recorded here, and
    # PRAGMA user_version repeats it for anyone looking at the file with sqlite3.
    def schema_version(self):
        """The schema version the store is at: None for a new, empty store; 0 for one made by a
        release from before versioned stores."""
        with self._reading() as conn:
            tables = {row["name"] for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%'")}
            if "schema_versions" in tables:
                version = first_value(conn, "SELECT MAX(version) FROM schema_versions")
                if version is not None:
                    return version
            return 0 if tables - {"schema_versions"} else None

    def schema_history(self):
        """The upgrade steps applied to the store, oldest first: version, name, release and
        appliedAt."""
        if not self._scalar("SELECT 1 FROM sqlite_master WHERE name = 'schema_versions'"):
            return []
        return self._query("SELECT version, name, release, appliedAt FROM schema_versions "
                           "ORDER BY version")

    def upgrade_step(self, version, name, release, now):
        """Take the store from `version` - 1 to `version` and record it, in one transaction
        (step 1 runs SQL scripts, idempotent, before it); False when it had been taken."""
        from .upgrades import IN_TRANSACTION, STEPS

        step = STEPS[version]
        conn = self._connection()
        with self._errors():
            conn.execute(VERSIONS_DDL)
            if version not in IN_TRANSACTION:
                step(self, conn)
        with self._transaction() as conn:
            if first_value(conn, "SELECT 1 FROM schema_versions WHERE version = ?", (version,)):
                return False
            if version in IN_TRANSACTION:
                step(self, conn)
            conn.execute("INSERT INTO schema_versions (version, name, release, appliedAt) "
                         "VALUES (?, ?, ?, ?)", (version, name, release, to_epoch(now)))
            conn.execute(f"PRAGMA user_version = {int(version)}")
        return True

    def apply_settings(self):
        """Nothing on SQLite: RETENTION_DAYS prunes after sync runs (retention.py)."""

    def parse_id(self, value):
        """The row id `value` names (an int or its decimal text), or None when it names none."""
        return int64(value)

    def ping(self):
        """Raise StoreUnavailable unless the store answers."""
        self._scalar("SELECT 1")

    def close(self):
        """Close this thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
            if self._local.pid == os.getpid():
                self.open_lock.closed(self._local.handle)
            self._local.handle = None
        if getattr(self._local, "wal_fd", None) is not None:
            os.close(self._local.wal_fd)
            self._local.wal_fd = None

    def reset(self):
        """Delete every row of every table but the schema versions (tests and the contract
        suite only)."""
        with self._transaction() as conn:
            tables = [r["name"] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' "
                "AND name != 'schema_versions'"
            )]
            for table in tables:
                conn.execute(f"DELETE FROM {table}")
