"""The SQLite store's upgrade steps, one function per version of app/store/schema.py's STEPS.

Each takes the store and a connection. Steps in IN_TRANSACTION run inside the transaction that
records them; the others run before it and must be idempotent (a second process may run them
too). A step that has shipped is never edited: a change to the schema is a new step.
"""


def baseline_scripts(store_class):
    """The `DDL` scripts of the adapter's classes, base class first: what the releases before
    versioned stores ran on opening a file (and stamped, as a checksum, in user_version)."""
    return [ddl for cls in reversed(store_class.__mro__) for ddl in cls.__dict__.get("DDL", ())]


def baseline(store, conn):
    """1: the tables, indexes and triggers of the releases before versioned stores.

    baseline_scripts, run as every such release ran them on opening a file: idempotent (IF NOT
    EXISTS), they also add what those releases added over time (the events page's counts,
    counted from the events already stored) and drop what they replaced.
    """
    for ddl in baseline_scripts(type(store)):
        conn.executescript(ddl)


def drop_replaced_indexes(store, conn):
    """2: nothing to drop on SQLite: step 1's scripts drop each index a later one replaced."""


def people(store, conn):
    """3: people profiles, the identity map and groups; telemetry's anonymousId, indexed by
    (appId, anonymousId)."""
    from .people import PEOPLE_SCRIPT

    columns = {row["name"] for row in conn.execute("PRAGMA table_info(telemetry)")}
    if "anonymousId" not in columns:
        conn.execute("ALTER TABLE telemetry ADD COLUMN anonymousId TEXT")
    for statement in PEOPLE_SCRIPT.split(";"):
        if statement.strip():
            conn.execute(statement)


def sources(store, conn):
    """4: sync_queue's source (the compatible protocol an item came through; NULL for the
    native API, as every earlier item did) and an index of batch logs with refused items."""
    columns = {row["name"] for row in conn.execute("PRAGMA table_info(sync_queue)")}
    if "source" not in columns:
        conn.execute("ALTER TABLE sync_queue ADD COLUMN source TEXT")
    conn.execute("CREATE INDEX IF NOT EXISTS batch_logs_rejected ON batch_logs "
                 "(source, rejectedCount) WHERE rejectedCount > 0")


def privacy(store, conn):
    """5: conflicts' and record_versions' userId (the writing queue item's), filled in for the
    rows already stored; indexes of a person's rows; suppressions, tombstones and deletions."""
    from .person import BACKFILL_SQL, PRIVACY_SCRIPT

    for table in ("conflicts", "record_versions"):
        columns = {row["name"] for row in conn.execute(f"PRAGMA table_info({table})")}
        if "userId" not in columns:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN userId TEXT")
    for statement in BACKFILL_SQL:
        conn.execute(statement)
    for statement in PRIVACY_SCRIPT.split(";"):
        if statement.strip():
            conn.execute(statement)



def explorer(store, conn):
    """6: the explorer's indexes (events newest first per app, and per anonymousId, which
    replaces step 3's index of it) and event_hours, the events counted per (app, hour, type),
    filled from the events stored; the sync engine's insert raises it, triggers lower it."""
    from .events import STEP6_STATEMENTS

    for statement in STEP6_STATEMENTS:
        conn.execute(statement)


def packed_results(store, conn):
    """7: batch logs' per-item results compressed (core.py's PACKED_COLUMNS), those already
    stored too, a thousand logs at a time; what is read back is the same JSON."""
    from .core import PACK_FROM, pack

    last = 0
    while True:
        cur = conn.execute(
            "SELECT id, results FROM batch_logs WHERE id > ? AND typeof(results) = 'text' "
            "AND length(results) >= ? ORDER BY id LIMIT 1000", (last, PACK_FROM))
        cur.row_factory = None
        rows = cur.fetchall()
        if not rows:
            return
        conn.executemany("UPDATE batch_logs SET results = ? WHERE id = ?",
                         [(pack(text), row_id) for row_id, text in rows])
        last = rows[-1][0]


STEPS = {1: baseline, 2: drop_replaced_indexes, 3: people, 4: sources, 5: privacy, 6: explorer,
         7: packed_results}
IN_TRANSACTION = {2, 3, 4, 5, 6, 7}
