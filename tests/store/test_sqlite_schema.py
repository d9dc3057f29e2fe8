"""SQLite files made by earlier versions open with their data and counts intact."""

import sqlite3

from app.config import load_config
from app.ingest.queue import enqueue
from app.store import create_store, schema
from app.store.common import utcnow
from app.store.sqlite.sync import CLAIM_SQL, COUNT_EVENTS_SQL, PLAIN_CLAIM_SQL
from app.sync.engine import run_sync

from .helpers import event_item, open_store

SETTINGS = load_config({"APP_ENV": "testing"})
# How files made before the sync engine counted its own inserts kept the events page's counts.
OLD_INSERT_TRIGGER = """
CREATE TRIGGER telemetry_count_insert AFTER INSERT ON telemetry BEGIN
    INSERT INTO event_type_counts (appId, eventType, n) VALUES (NEW.appId, NEW.eventType, 1)
    ON CONFLICT (appId, eventType) DO UPDATE SET n = n + 1;
END;
"""


def as_an_earlier_release_left_it(the_store):
    """Releases before versioned stores kept no schema versions, and those before the DDL
    checksum never marked the file (user_version)."""
    with the_store._transaction() as conn:
        conn.execute("DROP TABLE schema_versions")
        conn.execute("PRAGMA user_version = 0")
    the_store.close()


def counts(the_store):
    return [(r["appId"], r["eventType"], r["count"]) for r in the_store.event_type_counts()]


def add_event_row(the_store, event_id):
    with the_store._transaction() as conn:
        conn.execute("INSERT INTO telemetry (appId, eventId, userId, eventType, eventData, "
                     "createdAt) VALUES ('app1', ?, 'u1', 'lesson_viewed', '{}', 0)",
                     (event_id,))


def test_a_file_that_counted_by_trigger_counts_each_later_event_once(tmp_path):
    path = tmp_path / "old.sqlite3"
    old = open_store(path)
    with old._transaction() as conn:
        conn.execute(OLD_INSERT_TRIGGER)
    add_event_row(old, "before")
    assert counts(old) == [("app1", "lesson_viewed", 1)]
    as_an_earlier_release_left_it(old)

    store = open_store(path)
    enqueue(store, "app1", [event_item("after")])
    run_sync(store, SETTINGS, source="manual")
    assert store.get_event("app1", "after") is not None
    assert counts(store) == [("app1", "lesson_viewed", 2)]
    store.close()


def test_a_file_without_counts_is_counted_from_its_events_on_opening(tmp_path):
    path = tmp_path / "older.sqlite3"
    old = open_store(path)
    with old._transaction() as conn:
        conn.execute("DROP TRIGGER telemetry_count_delete")
        conn.execute("DROP TRIGGER telemetry_count_update")
        conn.execute("DROP TABLE event_type_counts")
    add_event_row(old, "e1")
    add_event_row(old, "e2")
    as_an_earlier_release_left_it(old)

    store = open_store(path)
    assert counts(store) == [("app1", "lesson_viewed", 2)]
    with store._transaction() as conn:
        conn.execute("DELETE FROM telemetry WHERE eventId = 'e1'")
    assert counts(store) == [("app1", "lesson_viewed", 1)]
    store.close()


def test_counting_an_insert_reads_only_the_rows_it_added(tmp_path):
    store = open_store(tmp_path / "plan.sqlite3")
    with store._reading() as conn:
        plan = " / ".join(row["detail"] for row in conn.execute(
            f"EXPLAIN QUERY PLAN {COUNT_EVENTS_SQL}", (0,)))
    assert "SEARCH telemetry USING INTEGER PRIMARY KEY (rowid>?)" in plan, plan
    store.close()


def queue_indexes(the_store):
    with the_store._reading() as conn:
        return {row["name"] for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'sync_queue'")}


def test_a_file_with_the_old_index_of_open_items_claims_through_the_new_one(tmp_path):
    path = tmp_path / "old-index.sqlite3"
    old = open_store(path)
    with old._transaction() as conn:
        conn.execute("DROP INDEX sync_queue_claimable")
        conn.execute("CREATE INDEX sync_queue_open ON sync_queue (priority DESC, id) "
                     "WHERE status IN ('pending', 'processing', 'failed')")
    enqueue(old, "app1", [event_item("a"), event_item("b", priority=3)])
    as_an_earlier_release_left_it(old)

    store = open_store(path)
    indexes = queue_indexes(store)
    assert "sync_queue_open" not in indexes and "sync_queue_claimable" in indexes
    now = utcnow()
    with store.unit_of_work(durable=False):
        assert [i["itemId"] for i in store.claim_items(now, now, 10)] == ["b", "a"]
    store.close()


def test_a_claim_walks_only_the_open_items_in_claim_order(tmp_path):
    store = open_store(tmp_path / "claim-plan.sqlite3")
    for claim in (CLAIM_SQL, PLAIN_CLAIM_SQL):
        with store._reading() as conn:
            plan = " / ".join(row["detail"] for row in conn.execute(
                f"EXPLAIN QUERY PLAN {claim}", {"now": 0, "limit": 10}))
        # No sort step: the partial index hands out open items by priority, then arrival.
        assert plan == "SCAN sync_queue USING INDEX sync_queue_claimable", plan
    store.close()


def test_opening_a_current_file_only_reads_while_another_holds_the_write_lock(tmp_path):
    path = tmp_path / "busy.sqlite3"
    first = open_store(path)
    enqueue(first, "app1", [event_item("e1")])
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another worker, in the middle of a write
    try:
        second = create_store({"SQLITE_PATH": str(path), "SQLITE_BUSY_TIMEOUT_MS": 100})
        schema.open_store(second)  # a worker starting now: would wait for the lock, then fail
        assert second.queue_counts() == {"pending": 1}
        second.close()
    finally:
        writer.rollback()
        writer.close()
        first.close()


def test_step_5_gives_a_new_file_the_tables_columns_and_indexes_of_a_persons_rows(tmp_path):
    store = open_store(tmp_path / "privacy.sqlite3")
    with store._reading() as conn:
        def columns(table):
            return {r["name"]: r["pk"] for r in conn.execute(f"PRAGMA table_info({table})")}

        def index_columns(name):
            return [r["name"] for r in conn.execute(f"PRAGMA index_info({name})")]

        assert "userId" in columns("conflicts") and "userId" in columns("record_versions")
        keys = {table: sorted((pk, name) for name, pk in columns(table).items() if pk)
                for table in ("suppressions", "tombstones", "deletions")}
        assert keys == {"suppressions": [(1, "appId"), (2, "subject")],
                        "tombstones": [(1, "appId"), (2, "kind"), (3, "hash")],
                        "deletions": [(1, "id")]}
        assert set(columns("deletions")) == {
            "id", "appId", "subject", "userIds", "suppress", "status", "phase", "counts",
            "requestedBy", "requestedAt", "updatedAt", "finishedAt", "error"}
        assert {name: index_columns(name) for name in (
            "conflicts_user", "record_versions_user", "records_user", "telemetry_user_time",
            "batch_logs_user", "deletions_status")} == {
            "conflicts_user": ["appId", "userId"], "record_versions_user": ["appId", "userId"],
            "records_user": ["appId", "userId"],
            "telemetry_user_time": ["appId", "userId", "timestamp"],
            "batch_logs_user": ["appId", "userId"], "deletions_status": ["status", "requestedAt"]}
    assert schema.STEPS[5].startswith("A person's rows")
    store.close()


def test_a_persons_rows_are_read_through_step_5s_indexes_without_sorting_them(tmp_path):
    """Each id's rows (per queue state) are walked newest first by an index, reading the index
    alone, a `limit` of them each: no table is scanned and no walk sorts the person's rows (only
    the rowids the walks hand over are merged), and the rows are read by rowid."""
    store = open_store(tmp_path / "person-plan.sqlite3")
    asked = []
    real = store._query
    store._query = lambda sql, params=(): asked.append((sql, params)) or real(sql, params)
    reads = {"person_conflicts": "conflicts_user",
             "person_record_versions": "record_versions_user",
             "person_records": "records_user", "person_batch_logs": "batch_logs_user",
             "person_queue_items": "sync_queue_user"}
    for read, index in reads.items():
        asked.clear()
        getattr(store, read)("a", ["u", "v"], 10, 5)
        [(sql, params)] = asked
        with store._reading() as conn:
            plan = {row["id"]: row for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params)}
        searches = [r["detail"] for r in plan.values() if r["detail"].startswith(("SEARCH",
                                                                                   "SCAN "))
                    and "subquery" not in r["detail"]]
        # The walks read the index alone; the rows themselves are then read by rowid.
        walks = [d for d in searches if "USING INTEGER PRIMARY KEY (rowid=?)" not in d]
        assert len(walks) == len(searches) - 1, (read, searches)
        assert walks and all(f"USING COVERING INDEX {index} (appId=? AND userId=?" in d
                             for d in walks), (read, searches)
        inner_sorts = [r for r in plan.values() if "TEMP B-TREE" in r["detail"]
                       and plan.get(r["parent"], {}).get("detail", "").startswith("CO-ROUTINE")]
        assert not inner_sorts, read
    store.close()
