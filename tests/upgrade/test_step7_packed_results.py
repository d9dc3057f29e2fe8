"""Upgrade step 7: batch logs' per-item results are stored compressed on SQLite. The logs of
every earlier release's store read back the same after the step, the long ones now take a
fraction of the room, and logs written since (by ingest, the sync engine and erasure) are
compressed too."""

import sqlite3

import pytest

from app.extensions import store as store_ext
from app.store.sqlite.core import PACK_FROM, loads
from app.sync.engine import run_sync
from tests.conftest import close_app

from .fixtures import RELEASES, app_on_release_store

STORE_SPECIFIC = {"sqlite": "the step changes how SQLite's text columns hold results; MongoDB "
                            "keeps BSON (its step 7 does nothing)"}


def stored_results(path):
    """{batch log id: (SQLite type of results, its raw value)}."""
    conn = sqlite3.connect(path)
    try:
        return {row[0]: (row[1], row[2]) for row in conn.execute(
            "SELECT id, typeof(results), results FROM batch_logs")}
    finally:
        conn.close()


@pytest.mark.parametrize("release", RELEASES)
def test_an_earlier_release_s_results_read_the_same_and_long_ones_are_compressed(
        release, tmp_path, store_kind):
    app = app_on_release_store(release, tmp_path, store_kind)
    path = tmp_path / "prepmate.sqlite3"
    before = stored_results(path)
    long_ids = {i for i, (kind, value) in before.items()
                if kind == "text" and len(value) >= PACK_FROM}
    assert long_ids, "the fixture holds a batch log with long results"
    with app.app_context():
        the_store = store_ext.get(app)
        after = stored_results(path)
        for log_id, (_kind, value) in before.items():
            assert the_store.batch_log(log_id)["results"] == (
                loads(value) if value is not None else None)
    close_app(app)
    assert {i for i, (kind, _) in after.items() if kind == "blob"} == long_ids
    for log_id in long_ids:
        assert len(after[log_id][1]) < len(before[log_id][1]) / 2
        assert loads(after[log_id][1]) == loads(before[log_id][1])


def test_new_logs_are_compressed_and_read_back_whole(app, client, auth, store):
    items = [{"itemType": "event", "eventId": f"packed-{n:03d}", "eventType": "page_view",
              "eventData": {"n": n}} for n in range(40)]
    answer = client.post("/api/telemetry/batch", headers=auth,
                         json={"batchId": "packed-batch", "userId": "u-1", "items": items})
    assert answer.status_code == 202
    replay = client.post("/api/telemetry/batch", headers=auth,
                         json={"batchId": "packed-batch", "userId": "u-1", "items": items})
    assert replay.get_json()["results"] == answer.get_json()["results"]
    assert [r["itemId"] for r in answer.get_json()["results"]] == [i["eventId"] for i in items]
    shown = client.get("/api/telemetry/batch/packed-batch", headers=auth)
    assert shown.status_code == 200, shown.get_json()
    with app.app_context():
        [run] = run_sync(store, app.config, source="manual")
    assert run["successCount"] == len(items)
    stored = store.get_batch_log(None, run["batchId"])
    assert [r["itemId"] for r in stored["results"]] == [i["eventId"] for i in items]
    kinds = {source: kind for source, kind in sqlite3.connect(app.config["SQLITE_PATH"]).execute(
        "SELECT source, typeof(results) FROM batch_logs")}
    assert kinds == {"client": "blob", "manual": "blob"}
