"""Acknowledged means durable: data survives a restart; a store outage acknowledges nothing."""

import os
import sqlite3

from tests.api.helpers import batch, event_item
from tests.conftest import make_app


def test_data_survives_a_restart(tmp_path):
    first = make_app(tmp_path)
    from app.accounts.keys import create_key
    from app.extensions import store

    with first.app_context():
        raw, _ = create_key(store.get(first), "testapp", ["ingest", "read"])
    headers = {"Authorization": f"Bearer {raw}"}
    response = first.test_client().post("/api/telemetry/batch",
                                        json=batch([event_item("e1")], batch_id="b1"),
                                        headers=headers)
    assert response.status_code == 202
    store.get(first).close()

    second = make_app(tmp_path)
    client = second.test_client()
    assert client.get("/api/telemetry/batch/b1", headers=headers).json["successCount"] == 1
    again = client.post("/api/telemetry/batch", json=batch([event_item("e1")]), headers=headers)
    assert again.json["duplicates"] == 1


def test_a_locked_store_answers_503_and_stores_nothing(tmp_path):
    app = make_app(tmp_path, SQLITE_BUSY_TIMEOUT_MS=200)
    from app.accounts.keys import create_key
    from app.extensions import store

    raw, _ = create_key(store.get(app), "testapp", ["ingest", "read"])
    headers = {"Authorization": f"Bearer {raw}"}
    blocker = sqlite3.connect(app.config["SQLITE_PATH"], isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        response = app.test_client().post("/api/telemetry/batch",
                                          json=batch([event_item("e1")]), headers=headers)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert response.status_code == 503
    assert response.json["error"] == "store_unavailable"
    assert response.headers["Retry-After"]
    assert store.get(app).queue_counts() == {}


def _wal_fsyncs(monkeypatch, path, on_fsync=None):
    """Record each fsync (fdatasync, as SQLite itself uses) of the store's WAL file, calling
    `on_fsync` at that moment."""
    import app.store.sqlite.core as core

    calls = []
    real_fsync = core.os.fdatasync

    def fsync(fd):
        if os.readlink(f"/proc/self/fd/{fd}") == os.path.realpath(f"{path}-wal"):
            calls.append(on_fsync() if on_fsync else True)
        return real_fsync(fd)

    monkeypatch.setattr(core.os, "fdatasync", fsync)
    return calls


def test_a_batch_is_on_disk_before_it_is_acknowledged_and_others_need_not_wait(
        tmp_path, monkeypatch):
    app = make_app(tmp_path)  # SQLITE_SYNCHRONOUS=FULL, the default
    from app.accounts.keys import create_key
    from app.extensions import store

    raw, _ = create_key(store.get(app), "testapp", ["ingest", "read"])
    path = app.config["SQLITE_PATH"]

    def another_writer_gets_the_lock_at_once():
        # Taken while the batch's fsync runs: COMMIT released the write lock before it.
        other = sqlite3.connect(path, isolation_level=None, timeout=0)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            return "free"
        except sqlite3.OperationalError:
            return "held"
        finally:
            other.close()

    fsyncs = _wal_fsyncs(monkeypatch, path, another_writer_gets_the_lock_at_once)
    response = app.test_client().post("/api/telemetry/batch",
                                      json=batch([event_item("e1"), event_item("e2")]),
                                      headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 202
    assert fsyncs == ["free"]


def test_normal_synchronous_skips_the_fsync(tmp_path, monkeypatch):
    app = make_app(tmp_path, SQLITE_SYNCHRONOUS="NORMAL")
    from app.accounts.keys import create_key
    from app.extensions import store

    raw, _ = create_key(store.get(app), "testapp", ["ingest", "read"])
    fsyncs = _wal_fsyncs(monkeypatch, app.config["SQLITE_PATH"])
    response = app.test_client().post("/api/telemetry/batch", json=batch([event_item("e1")]),
                                      headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 202
    assert fsyncs == []


def test_sync_work_is_not_fsynced_on_its_own_but_a_hand_resolution_is(tmp_path, monkeypatch):
    # A sync unit a power cut undoes leaves its items due and is applied again: no fsync is
    # needed for it. What an operator is told is done must be on disk before the answer.
    app = make_app(tmp_path)
    from app.extensions import store

    the_store = store.get(app)
    fsyncs = _wal_fsyncs(monkeypatch, app.config["SQLITE_PATH"])
    with the_store.unit_of_work(durable=False):
        the_store.add_sync_log({"batchId": "run-1", "source": "manual", "status": "success",
                                "startTime": 0.0, "endTime": 0.0})
    assert fsyncs == []
    with the_store.unit_of_work():
        the_store.add_sync_log({"batchId": "run-2", "source": "manual", "status": "success",
                                "startTime": 0.0, "endTime": 0.0})
    assert fsyncs == [True]
    assert the_store.get_batch_log(None, "run-1") is not None


def test_the_wal_directory_entry_is_made_durable_once(tmp_path, monkeypatch):
    import app.store.sqlite.core as core
    from app.accounts.keys import create_key
    from app.extensions import store

    service = make_app(tmp_path)
    the_store = store.get(service)
    raw, _ = create_key(the_store, "testapp", ["ingest"])
    the_store.close()  # start from a new connection, as a new worker does
    folder = os.path.dirname(os.path.realpath(service.config["SQLITE_PATH"]))
    synced = []
    real_fsync = core.os.fsync

    def fsync(fd):
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        return real_fsync(fd)

    monkeypatch.setattr(core.os, "fsync", fsync)
    for batch_id in ("b1", "b2"):
        response = service.test_client().post("/api/telemetry/batch",
                                              json=batch([event_item()], batch_id=batch_id),
                                              headers={"Authorization": f"Bearer {raw}"})
        assert response.status_code == 202
    assert synced == [folder]
