"""On SQLite, every query of the privacy port is an index probe: the look-ups ingest makes per
call (two EXISTS, the suppressed people, the erased ids) and the suppression operations never
scan the suppressions or tombstones tables, however many they hold."""

import pytest

from app.store.common import utcnow

pytestmark = pytest.mark.only_on("sqlite", reason="SQLite's query plans; on MongoDB "
                                 "tests/store/test_mongo_indexes.py checks the same paths")


def plans_of(store, calls):
    """{sql: its EXPLAIN QUERY PLAN details} of every statement the calls ran."""
    conn = store._connection()
    seen = []
    conn.set_trace_callback(seen.append)
    try:
        calls()
    finally:
        conn.set_trace_callback(None)
    plans = {}
    for sql in seen:
        if not sql.lstrip().upper().startswith(("SELECT", "DELETE", "INSERT")):
            continue
        # (The trace gives each statement with its values in place.)
        rows = conn.execute(f"EXPLAIN QUERY PLAN {sql}")
        rows.row_factory = None
        plans[sql] = [row[3] for row in rows]
    return plans


def test_the_privacy_port_never_scans_its_tables(store):
    now = utcnow()
    store.add_tombstones("app1", "event", [f"{n:064x}" for n in range(300)], now)
    for n in range(50):
        store.add_suppression("app1", f"{n:064x}", now)

    def calls():
        store.privacy_marks("app1")
        store.suppressed_among("app1", [f"{n:064x}" for n in range(40, 60)])
        store.tombstoned_among("app1", ("event", "item", "batch"),
                               [f"{n:064x}" for n in range(290, 310)])
        store.is_suppressed("app1", "0" * 64)
        store.suppression_count("app1")
        store.lift_suppression("app1", "0" * 64)

    plans = plans_of(store, calls)
    assert len(plans) >= 6
    assert all(any("suppressions" in d or "tombstones" in d for d in details)
               for details in plans.values())
    scans = {sql: details for sql, details in plans.items()
             if any(d.startswith(("SCAN suppressions", "SCAN tombstones")) for d in details)}
    assert scans == {}
