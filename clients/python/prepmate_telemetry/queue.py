"""The durable on-disk queue: SQLite in WAL mode, rows deleted only once the server acknowledged."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from dataclasses import dataclass, field

from ._uuid import uuid7

logger = logging.getLogger("prepmate_telemetry")

# Survives a crash of the process (kill -9); a power cut may lose the last few captures.
SQLITE_SYNCHRONOUS = "NORMAL"
SQLITE_BUSY_TIMEOUT_SECONDS = 30.0
# The meta key of the opt-out (JSON true while opted out): the claim reads it in its own
# transaction, so no batch made after opt_out() returned carries a tracking item.
META_OPTED_OUT = "optedOut"
# Item types of tracking (events and the verbs), which an opt-out holds back; records go on.
TRACKING_TYPES = frozenset({"event", "identify", "alias", "group", "page", "screen"})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    item_id TEXT NOT NULL UNIQUE,
    user_id TEXT,
    priority INTEGER NOT NULL DEFAULT 0,
    body TEXT NOT NULL,
    size INTEGER NOT NULL,
    batch_id TEXT,
    tracking INTEGER
);
CREATE INDEX IF NOT EXISTS items_send_order ON items (batch_id, priority DESC, seq);
CREATE TABLE IF NOT EXISTS batches (
    batch_id TEXT PRIMARY KEY,
    user_id TEXT,
    owner TEXT NOT NULL,
    lease_until REAL NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS record_versions (
    record_type TEXT NOT NULL,
    record_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (record_type, record_id)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def is_tracking(item) -> bool:
    """An event or a verb's item, as opposed to a record edit (which always has a recordId,
    even one of a type an earlier release named like a verb)."""
    return item.get("itemType") in TRACKING_TYPES and "recordId" not in item


@dataclass
class Batch:
    """A claimed batch: the same batchId always goes with the same items."""

    batch_id: str
    user_id: str | None
    item_ids: list[str] = field(default_factory=list)
    items: list[dict] = field(default_factory=list)
    tracking: bool = False


def _owner_alive(owner: str) -> bool:
    pid_text = owner.split(":", 1)[0]
    try:
        os.kill(int(pid_text), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


class DiskQueue:
    """Items waiting for the server, shared safely by the processes that open the same file."""

    def __init__(self, path: str):
        self.path = path
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(
            path,
            timeout=SQLITE_BUSY_TIMEOUT_SECONDS,
            isolation_level=None,
            check_same_thread=False,
        )
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute(f"PRAGMA synchronous={SQLITE_SYNCHRONOUS}")
        with self._lock:
            self._conn.executescript(_SCHEMA)
        self._write(self._add_tracking_column)

    @staticmethod
    def _add_tracking_column(conn) -> None:
        """Files of earlier releases have no items.tracking: add it (its rows are classified at
        the next claim), and the index that finds unclassified rows."""
        columns = {row[1] for row in conn.execute("PRAGMA table_info(items)")}
        if "tracking" not in columns:
            conn.execute("ALTER TABLE items ADD COLUMN tracking INTEGER")
        conn.execute("CREATE INDEX IF NOT EXISTS items_unclassified ON items (seq) "
                     "WHERE tracking IS NULL")

    @staticmethod
    def _classify(conn) -> None:
        """Sets items.tracking where it is unknown: rows from a file of an earlier release, or
        written by an earlier release sharing the file (none, nearly always)."""
        rows = conn.execute("SELECT seq, body FROM items WHERE tracking IS NULL").fetchall()
        if rows:
            conn.executemany("UPDATE items SET tracking = ? WHERE seq = ?",
                             [(int(is_tracking(json.loads(body))), seq) for seq, body in rows])

    @staticmethod
    def _opted_out(conn) -> bool:
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (META_OPTED_OUT,)).fetchone()
        return bool(row and json.loads(row[0]))

    def close(self) -> None:
        """Closes the connection (never call this in a forked child on the parent's queue)."""
        with self._lock:
            self._conn.close()

    def _write(self, fn):
        """Runs fn(conn) in one immediate (write-locked) transaction."""
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result

    def put(self, item_id, user_id, priority, item, max_queue):
        """Stores one item; returns the ids dropped to stay within max_queue."""
        body = json.dumps(item, separators=(",", ":"), ensure_ascii=False)
        tracking = int(is_tracking(item))

        def insert(conn):
            if "recordId" in item and item.get("baseVersion") is None:
                # Chain this client's own writes: the next save of a record builds on this one.
                row = conn.execute(
                    "SELECT version FROM record_versions WHERE record_type = ? AND record_id = ?",
                    (item["itemType"], item["recordId"]),
                ).fetchone()
                base = row[0] if row else 0
                item["baseVersion"] = base
                self._set_version(conn, item["itemType"], item["recordId"], base + 1)
                data = json.dumps(item, separators=(",", ":"), ensure_ascii=False)
            else:
                data = body
            conn.execute(
                "INSERT INTO items (item_id, user_id, priority, body, size, tracking) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (item_id, user_id, priority, data, len(data.encode("utf-8")), tracking),
            )
            return self._trim(conn, max_queue)

        return self._write(insert)

    @staticmethod
    def _set_version(conn, record_type, record_id, version):
        conn.execute(
            "INSERT INTO record_versions (record_type, record_id, version) VALUES (?, ?, ?) "
            "ON CONFLICT (record_type, record_id) DO UPDATE SET version = excluded.version",
            (record_type, record_id, version),
        )

    @staticmethod
    def _trim(conn, max_queue):
        (count,) = conn.execute("SELECT COUNT(*) FROM items").fetchone()
        excess = count - max_queue
        if excess <= 0:
            return []
        # The oldest lowest-priority items go first; items already on the wire are kept.
        rows = conn.execute(
            "SELECT item_id FROM items WHERE batch_id IS NULL "
            "ORDER BY priority ASC, seq ASC LIMIT ?",
            (excess,),
        ).fetchall()
        dropped = [row[0] for row in rows]
        conn.executemany("DELETE FROM items WHERE item_id = ?", [(i,) for i in dropped])
        return dropped

    @staticmethod
    def _held_elsewhere(holder, owner, lease_until, now) -> bool:
        """A batch another live sender is working on (its lease runs)."""
        return holder != owner and lease_until > now and _owner_alive(holder)

    def backlog(self, owner):
        """(items in no batch, batches this owner may take now, the last item's seq); while
        opted out, tracking items (and batches of nothing else) are not counted: they wait."""
        with self._lock:
            held = self._opted_out(self._conn)
            sendable = " AND tracking IS NOT 1" if held else ""
            waiting, last_seq = self._conn.execute(
                f"SELECT (SELECT COUNT(*) FROM items WHERE batch_id IS NULL{sendable}), "
                "(SELECT MAX(seq) FROM items)"
            ).fetchone()
            # Opted out, a batch of tracking alone waits; opted in, every batch counts.
            has_sendable = ("EXISTS (SELECT 1 FROM items WHERE items.batch_id = batches.batch_id"
                            f"{sendable})") if held else "1"
            batches = self._conn.execute(
                f"SELECT owner, lease_until, {has_sendable} FROM batches"
            ).fetchall()
        now = time.time()
        takeable = sum(1 for holder, lease, has_sendable in batches
                       if has_sendable and not self._held_elsewhere(holder, owner, lease, now))
        return waiting, takeable, last_seq

    def claim(self, owner, batch_size, max_bytes, lease_seconds, due_seq=None) -> Batch | None:
        """Takes the next batch: an unfinished one first (same batchId), else a new one.

        A new batch is whole (batch_size items, or max_bytes full), or smaller when it carries
        an item queued up to due_seq (whose wait is over; None: every item).

        While opted out (the meta key, read in this transaction) tracking items are held: they
        keep their place (seq) and go after opt-in; records are taken as ever, in their order.
        An unfinished batch of tracking alone waits under its batchId; one that mixes records
        and tracking is dissolved (its items back in the queue, where they were), so its
        records go now: the server keeps each itemId once, whichever batch brings it again.
        """

        def take(conn):
            now = time.time()
            self._classify(conn)
            held = self._opted_out(conn)
            for batch_id, user_id, holder, lease_until in conn.execute(
                "SELECT batch_id, user_id, owner, lease_until FROM batches ORDER BY created_at"
            ).fetchall():
                if self._held_elsewhere(holder, owner, lease_until, now):
                    continue
                rows = conn.execute(
                    "SELECT item_id, body, tracking FROM items WHERE batch_id = ? ORDER BY seq",
                    (batch_id,),
                ).fetchall()
                if not rows:
                    conn.execute("DELETE FROM batches WHERE batch_id = ?", (batch_id,))
                    continue
                tracking = any(r[2] for r in rows)
                if held and tracking:
                    if all(r[2] for r in rows):
                        continue
                    conn.execute("UPDATE items SET batch_id = NULL WHERE batch_id = ?",
                                 (batch_id,))
                    conn.execute("DELETE FROM batches WHERE batch_id = ?", (batch_id,))
                    continue
                conn.execute(
                    "UPDATE batches SET owner = ?, lease_until = ? WHERE batch_id = ?",
                    (owner, now + lease_seconds, batch_id),
                )
                return Batch(batch_id, user_id, [r[0] for r in rows],
                             [json.loads(r[1]) for r in rows], tracking)
            sendable = " AND tracking = 0" if held else ""
            first = conn.execute(
                f"SELECT user_id FROM items WHERE batch_id IS NULL{sendable} "
                "ORDER BY priority DESC, seq LIMIT 1"
            ).fetchone()
            if first is None:
                return None
            user_id = first[0]
            rows = conn.execute(
                "SELECT item_id, body, size, seq, tracking FROM items "
                f"WHERE batch_id IS NULL AND user_id IS ?{sendable} "
                "ORDER BY priority DESC, seq LIMIT ?",
                (user_id, batch_size),
            ).fetchall()
            chosen = []
            total = 0
            whole = len(rows) == batch_size
            due = tracking = False
            for item_id, body, size, seq, item_tracking in rows:
                if chosen and total + size + 1 > max_bytes:
                    whole = True
                    break
                chosen.append((item_id, body))
                total += size + 1
                due = due or due_seq is None or seq <= due_seq
                tracking = tracking or bool(item_tracking)
            if not (whole or due):
                return None
            batch = Batch(uuid7(), user_id, [c[0] for c in chosen],
                          [json.loads(c[1]) for c in chosen], tracking)
            conn.execute(
                "INSERT INTO batches (batch_id, user_id, owner, lease_until, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (batch.batch_id, user_id, owner, now + lease_seconds, now),
            )
            conn.executemany(
                "UPDATE items SET batch_id = ? WHERE item_id = ?",
                [(batch.batch_id, i) for i in batch.item_ids],
            )
            return batch

        return self._write(take)

    def adopt(self, path) -> int:
        """Moves what another queue file holds (items, batches with their batchIds, record
        versions, pull checkpoints) into this one, and empties it; returns how many items came.

        The emptied file is left in place: an older client may still have it open.
        """
        with self._lock:
            conn = self._conn
            try:
                conn.execute("ATTACH DATABASE ? AS old", (path,))
            except sqlite3.DatabaseError:
                logger.warning("telemetry: could not open %s to take over its queue", path,
                               exc_info=True)
                return 0
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    moved = conn.execute(
                        "INSERT OR IGNORE INTO main.items "
                        "(item_id, user_id, priority, body, size, batch_id) "
                        "SELECT item_id, user_id, priority, body, size, batch_id "
                        "FROM old.items ORDER BY seq"
                    ).rowcount
                    conn.execute(
                        "INSERT OR IGNORE INTO main.batches "
                        "(batch_id, user_id, owner, lease_until, created_at) "
                        "SELECT batch_id, user_id, owner, lease_until, created_at FROM old.batches"
                    )
                    conn.execute(
                        "INSERT INTO main.record_versions (record_type, record_id, version) "
                        "SELECT record_type, record_id, version FROM old.record_versions WHERE 1 "
                        "ON CONFLICT (record_type, record_id) "
                        "DO UPDATE SET version = MAX(version, excluded.version)"
                    )
                    conn.execute("INSERT OR IGNORE INTO main.meta (key, value) "
                                 "SELECT key, value FROM old.meta")
                    for table in ("items", "batches", "record_versions", "meta"):
                        conn.execute(f"DELETE FROM old.{table}")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            except sqlite3.DatabaseError:
                logger.warning("telemetry: could not take over the queue in %s", path,
                               exc_info=True)
                return 0
            finally:
                conn.execute("DETACH DATABASE old")
            return moved

    def extend(self, batch_id, owner, lease_seconds) -> None:
        """Keeps the lease on a batch that is still being retried."""
        self._write(
            lambda conn: conn.execute(
                "UPDATE batches SET owner = ?, lease_until = ? WHERE batch_id = ?",
                (owner, time.time() + lease_seconds, batch_id),
            )
        )

    def release_lease(self, owner) -> None:
        """Lets another sender resume this owner's batches at once (their batchIds stay)."""
        self._write(
            lambda conn: conn.execute(
                "UPDATE batches SET lease_until = 0 WHERE owner = ?", (owner,)
            )
        )

    def finish(self, batch_id, done_ids) -> None:
        """Deletes acknowledged items; items the answer did not settle go back to the queue."""

        def settle(conn):
            conn.executemany("DELETE FROM items WHERE item_id = ?", [(i,) for i in done_ids])
            conn.execute("UPDATE items SET batch_id = NULL WHERE batch_id = ?", (batch_id,))
            conn.execute("DELETE FROM batches WHERE batch_id = ?", (batch_id,))

        self._write(settle)

    def count(self) -> int:
        """Items waiting, in flight included."""
        with self._lock:
            return self._conn.execute("SELECT COUNT(*) FROM items").fetchone()[0]

    def counts(self) -> tuple[int, int]:
        """(items waiting, in flight included; of them the tracking items an opt-out holds,
        0 while opted in)."""
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN")
            try:
                total, tracking = conn.execute(
                    "SELECT COUNT(*), COALESCE(SUM(tracking), 0) FROM items").fetchone()
                if not self._opted_out(conn):
                    return total, 0
                unknown = conn.execute(
                    "SELECT body FROM items WHERE tracking IS NULL").fetchall()
                return total, tracking + sum(is_tracking(json.loads(r[0])) for r in unknown)
            finally:
                conn.execute("COMMIT")

    def set_versions(self, record_type, versions: dict) -> None:
        """Stores the versions the server reported for records of one type."""

        def store(conn):
            for record_id, version in versions.items():
                self._set_version(conn, record_type, record_id, version)

        self._write(store)

    def known_version(self, record_type, record_id) -> int:
        """The last version of a record this client saw or wrote (0 when none)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT version FROM record_versions WHERE record_type = ? AND record_id = ?",
                (record_type, record_id),
            ).fetchone()
        return row[0] if row else 0

    def get_meta(self, key, default=None):
        """A small JSON value kept beside the queue (pull checkpoints)."""
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def meta_default(self, key, value):
        """The value kept under key, storing `value` first when there is none (the first of
        two processes to get here sets it; both get the same)."""

        def keep(conn):
            conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
                         (key, json.dumps(value)))
            return conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0]

        return json.loads(self._write(keep))

    def set_meta(self, key, value) -> None:
        """Stores a small JSON value beside the queue."""
        self.update_meta({key: value})

    def update_meta(self, values: dict) -> None:
        """Stores several small JSON values beside the queue, all or none."""
        self._write(
            lambda conn: conn.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [(key, json.dumps(value)) for key, value in values.items()],
            )
        )
