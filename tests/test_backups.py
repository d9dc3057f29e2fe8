"""`flask --app wsgi store check | backup | restore`: the store checked and counted on both
stores; on SQLite, a consistent copy taken while writers go on, and a restore that refuses a
store in use or a file that is not a backup, and erases again whoever was erased since."""

import json
import os
import sqlite3
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest

from app.extensions import store as store_ext
from app.store import schema
from app.store.port import BackupToFile
from tests.api.helpers import batch, event_item, record_item
from tests.conftest import close_app, make_app
from tests.privacy.erasure_helpers import populate, search
from tests.sync.helpers import sync
from tests.test_gunicorn import free_port, serving_gunicorn
from tests.upgrade.fixtures import RELEASES, fixture_version, load_sqlite
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parent.parent
BATCH = "/api/telemetry/batch"

sqlite_only = pytest.mark.only_on("sqlite", reason="backup and restore are SQLite commands; "
                                  "MongoDB's own tools back it up (its refusal is tested)")


def invoke(app, *args):
    return app.test_cli_runner().invoke(args=["store", *args])


# --- store check, on both stores ---


def test_check_counts_what_the_store_holds_and_passes(client, auth, store, app):
    client.post(BATCH, json=batch([event_item("e1"), event_item("e2"),
                                   record_item("i1")]), headers=auth)
    sync(app, store)
    client.post(BATCH, json=batch([event_item("e3")]), headers=auth)
    result = invoke(app, "check")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert f"at schema version {schema.LATEST}" in lines[0]
    assert "events\t2" in lines
    assert "queue\tpending 1, processing 0, done 3, failed 0, conflict 0, dead 0 (total 4)" in lines
    assert "records\t1 (1 versions)" in lines
    assert "batch logs\t3" in lines  # two client batches and the sync run's
    assert "conflicts\topen 0, resolved 0" in lines
    assert lines[-1].startswith("Check passed")


def damaged(app, the_store, tmp_path):
    """An app on a store broken where its own check looks: on SQLite, a copy of the store with
    an index's page overwritten; on MongoDB, the store with an index dropped. Returns the app
    and what the check must name."""
    if the_store.kind != "sqlite":
        the_store.db.telemetry.drop_index("appId_1_eventType_1_timestamp_1")
        return app, "telemetry: index (appId 1, eventType 1, timestamp 1) is missing"
    path = tmp_path / "damaged.sqlite3"
    the_store.capability(BackupToFile)(str(path))
    # An event changed behind its index's back: the index is hidden from the schema meanwhile.
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA writable_schema = ON")
    [index] = conn.execute("SELECT * FROM sqlite_master WHERE name = 'telemetry_type_time'")
    conn.execute("DELETE FROM sqlite_master WHERE name = 'telemetry_type_time'")
    conn.close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("UPDATE telemetry SET eventType = 'changed' WHERE eventId = 'e1'")
    conn.execute("PRAGMA writable_schema = ON")
    conn.execute("INSERT INTO sqlite_master VALUES (?, ?, ?, ?, ?)", index)
    conn.close()
    return make_app(tmp_path / "damaged", SQLITE_PATH=str(path)), "telemetry_type_time"


def test_check_fails_with_status_1_and_names_the_problem(client, auth, store, app, tmp_path):
    client.post(BATCH, json=batch([event_item(f"e{i}") for i in range(20)]), headers=auth)
    sync(app, store)
    checked, named = damaged(app, store, tmp_path)
    try:
        result = invoke(checked, "check")
    finally:
        if checked is not app:
            close_app(checked)
    assert result.exit_code == 1
    assert "problem: " in result.output and named in result.output
    assert "Check passed" not in result.output


# --- MongoDB: its own tools ---


@pytest.mark.only_on("mongo", reason="the refusal MongoDB answers; SQLite's commands are "
                     "tested below")
@pytest.mark.parametrize("command", [["backup", "b.out"], ["restore", "b.out"]])
def test_backup_and_restore_on_mongodb_name_its_own_tools(app, store, tmp_path, command,
                                                         monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke(app, *command)
    assert result.exit_code == 1
    for tool in ("mongodump --oplog", "mongorestore --drop --oplogReplay", "snapshot",
                 "reapply-erasures"):
        assert tool in result.output
    assert not (tmp_path / "b.out").exists()


# --- SQLite: backup ---


def post(url, key, body):
    request = urllib.request.Request(
        f"{url}{BATCH}", data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status


def opened_copy(tmp_path, path):
    """An app on the backup at `path`, opened as a store like any other."""
    return make_app(tmp_path / "copy", SQLITE_PATH=str(path))


@sqlite_only
def test_a_backup_under_write_load_holds_every_event_acknowledged_before_it(
        app, store, live_server, api_key, tmp_path):
    key = api_key("ingest")
    client = app.test_client()
    for n in range(10):  # a store of some size, so the copy takes a while
        # One user per batch: a user's backlog is bounded (SYNC_MAX_QUEUE).
        seeded = client.post(BATCH, json=batch([event_item(f"seed-{n}-{i}") for i in range(400)],
                                               user_id=f"seed-{n}"),
                             headers={"Authorization": f"Bearer {key}"})
        assert seeded.status_code == 202
    acknowledged, later, lock = [], [], threading.Lock()
    snapshot_taken, stop = threading.Event(), threading.Event()

    def writer(number):
        sent = 0
        while not stop.is_set():
            after_snapshot = snapshot_taken.is_set()
            ids = [f"w{number}-{sent}-{i}" for i in range(10)]
            body = batch([event_item(i) for i in ids], user_id=f"w{number}-{sent}")
            assert post(live_server.url, key, body) == 202
            with lock:
                (later if after_snapshot else acknowledged).extend(ids)
            sent += 1

    writers = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
    for thread in writers:
        thread.start()
    try:
        assert wait_for(lambda: len(acknowledged) >= 100, seconds=30)
        with lock:
            before = list(acknowledged)
        reports = []

        def progress(done, total):
            if not reports:
                # Inside VACUUM INTO's read transaction: writers must go on meanwhile.
                snapshot_taken.set()
                assert wait_for(lambda: len(later) >= 50, seconds=30), "writers were blocked"
            reports.append((done, total))

        copy_path = tmp_path / "backup.sqlite3"
        done = store.capability(BackupToFile)(str(copy_path), progress=progress)
    finally:
        stop.set()
        for thread in writers:
            thread.join(timeout=30)
    # Reported while the copy was under way, and complete at the end.
    assert reports[0][0] < reports[0][1] and len(reports) >= 2
    assert reports[-1][0] == reports[-1][1]
    assert done["bytes"] == copy_path.stat().st_size
    assert not Path(f"{copy_path}-wal").exists() and not Path(f"{copy_path}.partial").exists()
    copy = opened_copy(tmp_path, copy_path)
    try:
        with copy.app_context():
            copied = store_ext.get(copy)
            seeded = [f"seed-{n}-{i}" for n in range(10) for i in range(400)]
            for ids in (seeded, before):
                present = {item_id for item_id in ids
                           if copied.get_queue_item("testapp", item_id)}
                assert present == set(ids)
            # A copy of one instant: nothing sent after it began is in it.
            assert not [i for i in later if copied.get_queue_item("testapp", i)]
            assert invoke(copy, "check").exit_code == 0
    finally:
        close_app(copy)


@sqlite_only
def test_backup_shows_progress_and_never_replaces_a_file_without_force(client, auth, app,
                                                                       tmp_path):
    client.post(BATCH, json=batch([event_item("e1")]), headers=auth)
    target = tmp_path / "b.sqlite3"
    result = invoke(app, "backup", str(target))
    assert result.exit_code == 0, result.output
    assert "Backing up" in result.output and f"Backed up the store to {target}" in result.output
    target.write_bytes(b"an operator's other file")
    refused = invoke(app, "backup", str(target))
    assert refused.exit_code == 1 and "pass --force" in refused.output
    assert target.read_bytes() == b"an operator's other file"
    forced = invoke(app, "backup", "--force", str(target))
    assert forced.exit_code == 0, forced.output
    with sqlite3.connect(target) as conn:
        assert conn.execute("SELECT itemId FROM sync_queue").fetchall() == [("e1",)]
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)


# --- SQLite: restore ---


def backup_of(app, tmp_path, name="backup.sqlite3"):
    path = tmp_path / name
    result = invoke(app, "backup", str(path))
    assert result.exit_code == 0, result.output
    return path


@sqlite_only
def test_restore_erases_again_whoever_was_erased_after_the_backup(client, auth, store, app,
                                                                  tmp_path):
    populate(client, auth, store, app, "sia-73", "anon-sia", "MARK-sia", "r-sia")
    populate(client, auth, store, app, "tom-19", "anon-tom", "MARK-tom", "r-tom")
    backup = backup_of(app, tmp_path)
    erased = app.test_cli_runner().invoke(args=["people", "delete", "sia-73", "--app",
                                                "testapp"])
    assert erased.exit_code == 0, erased.output
    assert search(store, "sia-73", "MARK-sia") == {}
    result = invoke(app, "restore", str(backup))
    assert result.exit_code == 0, result.output
    assert f"Restored {backup}" in result.output
    assert "re-applying erasure" in result.output and ": done (" in result.output
    with app.app_context():
        restored = store_ext.get(app)
        assert search(restored, "sia-73", "anon-sia", "MARK-sia") == {}
        assert search(restored, "tom-19", "MARK-tom")
    again = invoke(app, "restore", str(backup))
    assert again.exit_code == 0 and "re-applying erasure" in again.output


@sqlite_only
def test_restore_replaces_the_store_and_removes_its_stale_journals(client, auth, store, app,
                                                                   tmp_path):
    client.post(BATCH, json=batch([event_item("kept")]), headers=auth)
    backup = backup_of(app, tmp_path)
    client.post(BATCH, json=batch([event_item("after")]), headers=auth)
    path = app.config["SQLITE_PATH"]
    assert Path(f"{path}-wal").exists()
    assert invoke(app, "restore", str(backup)).exit_code == 0
    with app.app_context():
        restored = store_ext.get(app)
        assert restored.get_queue_item("testapp", "kept")
        assert restored.get_queue_item("testapp", "after") is None
    # The -wal of the replaced store did not outlive it: what is there now is the new file's.
    wal = Path(f"{path}-wal")
    assert not wal.exists() or b"after" not in wal.read_bytes()


@sqlite_only
@pytest.mark.parametrize("made", ["text", "no_versions", "wal_beside", "later_release"])
def test_restore_refuses_what_is_not_a_backup_and_changes_nothing(client, auth, store, app,
                                                                  tmp_path, made):
    client.post(BATCH, json=batch([event_item("e1")]), headers=auth)
    path = tmp_path / "offered.sqlite3"
    if made == "text":
        path.write_text("not a database")
        reason = "is not a SQLite store"
    elif made == "no_versions":
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE telemetry (x)")
        reason = "no schema_versions table"
    elif made == "wal_beside":
        path = backup_of(app, tmp_path)
        Path(f"{path}-wal").write_bytes(b"")
        reason = "not a standalone copy"
    else:
        path = backup_of(app, tmp_path)
        with sqlite3.connect(path) as conn:
            conn.execute("INSERT INTO schema_versions VALUES (?, 'later', '9.9.9', 0)",
                         (schema.LATEST + 1,))
        reason = f"schema version {schema.LATEST + 1}, made by a later release"
    result = invoke(app, "restore", str(path))
    assert result.exit_code == 1
    assert "nothing was restored" in result.output and reason in result.output
    with app.app_context():
        assert store_ext.get(app).get_queue_item("testapp", "e1")


OLDER = [release for release in RELEASES if 0 < fixture_version(release) < schema.LATEST][-1]


@sqlite_only
@pytest.mark.parametrize("auto_upgrade", [True, False])
def test_a_restored_older_backup_is_upgraded_like_any_older_store(tmp_path, auto_upgrade):
    older = tmp_path / "older.sqlite3"
    load_sqlite(OLDER, older)
    app = make_app(tmp_path, STORE_AUTO_UPGRADE=auto_upgrade)
    try:
        result = invoke(app, "restore", str(older))
        assert f"Restored {older} (schema version {fixture_version(OLDER)})" in result.output
        ready = app.test_client().get("/api/health/ready")
        if auto_upgrade:
            assert result.exit_code == 0, result.output
            assert f"Upgraded it to schema version {schema.LATEST}" in result.output
            assert ready.status_code == 200
        else:
            assert result.exit_code == 1
            assert "run `flask --app wsgi store upgrade`" in result.output
            assert ready.get_json()["reason"] == "upgrade_needed"
    finally:
        close_app(app)


@sqlite_only
def test_a_store_that_needs_an_upgrade_is_backed_up_as_it_is(tmp_path):
    load_sqlite(OLDER, tmp_path / "prepmate.sqlite3")
    app = make_app(tmp_path, STORE_AUTO_UPGRADE=False)
    try:
        assert invoke(app, "status").exit_code == 0
        result = invoke(app, "backup", str(tmp_path / "before-upgrade.sqlite3"))
        assert result.exit_code == 0, result.output
    finally:
        close_app(app)
    with sqlite3.connect(tmp_path / "before-upgrade.sqlite3") as conn:
        [(version,)] = conn.execute("SELECT MAX(version) FROM schema_versions").fetchall()
    assert version == fixture_version(OLDER) < schema.LATEST


def flask(*args, env):
    return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.multiprocess
def test_restore_is_refused_while_gunicorn_serves_the_store(tmp_path):
    backup = tmp_path / "backup.sqlite3"
    env = {**os.environ, "APP_ENV": "testing", "ENABLE_SCHEDULED_SYNC": "false",
           "SQLITE_PATH": str(tmp_path / "prepmate.sqlite3")}
    env.pop("MONGODB_URI", None)
    with serving_gunicorn(tmp_path) as (url, the_store):
        # The test's own connection lets go, so only the server holds the store.
        the_store.close()
        made = flask("store", "backup", str(backup), env=env)
        assert made.returncode == 0, made.stderr
        refused = flask("store", "restore", str(backup), env=env)
        assert refused.returncode == 1
        assert "nothing was restored" in refused.stderr
        assert "open in another process" in refused.stderr
        assert urllib.request.urlopen(f"{url}/api/health/ready", timeout=5).status == 200
    restored = flask("store", "restore", str(backup), env=env)
    assert restored.returncode == 0, restored.stderr
    assert "Restored" in restored.stdout


@pytest.mark.multiprocess
def test_restore_is_refused_while_flask_run_serves_the_store(tmp_path):
    env = {**os.environ, "APP_ENV": "testing", "ENABLE_SCHEDULED_SYNC": "false",
           "SQLITE_PATH": str(tmp_path / "prepmate.sqlite3")}
    env.pop("MONGODB_URI", None)
    backup = tmp_path / "backup.sqlite3"
    assert flask("store", "backup", str(backup), env=env).returncode == 0
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "run",
                               "--port", str(port)], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def up():
            try:
                return urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health/live",
                                              timeout=1).status == 200
            except OSError:
                return False

        assert wait_for(up, seconds=30)
        refused = flask("store", "restore", str(backup), env=env)
        assert refused.returncode == 1 and "open in another process" in refused.stderr
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert flask("store", "restore", str(backup), env=env).returncode == 0
