"""Erasure on SQLite's file: the freed bytes are overwritten (secure_delete set by the erasing
code itself, then a TRUNCATE checkpoint), the deletion is done only once the checkpoint
succeeded, and a restored copy of the file has its erased people erased again at start."""

import logging
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from app.extensions import store as store_ext
from app.privacy import erasure
from app.sync.scheduling import reapply_erasures
from tests.conftest import close_app, make_app
from tests.privacy.erasure_helpers import escaped, populate, search
from tests.waiting import wait_for

STORE_SPECIFIC = {"sqlite": "reads SQLite's own file, WAL and checkpoints"}

ROOT = Path(__file__).resolve().parents[2]
USER, ANON, MARK = "sia-73", "anon-sia-73", "MARK-sia-5h2q"
OTHER, OTHER_MARK = "tom-19", "MARK-tom-8k1w"


def raw_bytes(app):
    """The bytes of the database file and of its WAL."""
    path = app.config["SQLITE_PATH"]
    data = b""
    for name in (path, f"{path}-wal"):
        try:
            with open(name, "rb") as handle:
                data += handle.read()
        except FileNotFoundError:
            pass
    return data


def test_the_file_and_the_wal_no_longer_hold_the_person(client, auth, store, app):
    populate(client, auth, store, app, USER, ANON, MARK, "r-sia")
    populate(client, auth, store, app, OTHER, "anon-tom-19", OTHER_MARK, "r-tom")
    assert store.flush_erased()
    assert MARK.encode() in raw_bytes(app)
    answer = client.delete(f"/api/telemetry/people/{USER}", headers=auth)
    assert answer.status_code == 202
    # SQLite as Debian builds it overwrites freed content anyway: turned off here, on the
    # connection the erasure runs on, so only the erasing code's own PRAGMA can do it.
    conn = store._connection()
    conn.execute("PRAGMA secure_delete = OFF")
    erasure.run_deletions(store, app.config)
    assert store.get_deletion(answer.json["deletionId"])["status"] == "done"
    data = raw_bytes(app)
    for needle in (MARK, USER, ANON):
        assert needle.encode() not in data, needle
    assert OTHER_MARK.encode() in data
    # Left as it was found.
    assert conn.execute("PRAGMA secure_delete").fetchone()["secure_delete"] == 0


def test_a_reader_holding_an_old_snapshot_keeps_the_deletion_running(client, auth, store,
                                                                      app):
    populate(client, auth, store, app, USER, ANON, MARK, "r-sia")
    answer = client.delete(f"/api/telemetry/people/{USER}", headers=auth)
    reader = sqlite3.connect(app.config["SQLITE_PATH"], isolation_level=None)
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT COUNT(*) FROM telemetry").fetchone()  # a snapshot held
        erasure.run_deletions(store, app.config)
        held = client.get(answer.headers["Location"], headers=auth).json
        assert (held["status"], held["phase"]) == ("running", "checkpoint")
        # The rows are gone, and the deletion forgot the ids; their bytes may not be yet.
        assert search(store, USER, ANON, MARK) == {}
    finally:
        reader.execute("COMMIT")
        reader.close()
    erasure.run_deletions(store, app.config)
    assert client.get(answer.headers["Location"], headers=auth).json["status"] == "done"
    assert search(store, USER, ANON, MARK) == {}
    assert MARK.encode() not in raw_bytes(app)


def test_a_restored_backup_has_its_erased_people_erased_again(client, auth, store, app,
                                                             tmp_path, caplog):
    populate(client, auth, store, app, USER, ANON, MARK, "r-sia")
    populate(client, auth, store, app, OTHER, "anon-tom-19", OTHER_MARK, "r-tom")
    assert store.flush_erased()
    backup = tmp_path / "backup.sqlite3"
    shutil.copyfile(app.config["SQLITE_PATH"], backup)
    assert client.delete(f"/api/telemetry/people/{USER}", query_string={"suppress": "true"},
                         headers=auth).status_code == 202
    erasure.run_deletions(store, app.config)
    assert search(store, USER, ANON, MARK) == {}
    ledger = erasure.ledger_path(app.config)
    assert ledger == f"{app.config['SQLITE_PATH']}.erasures"
    with open(ledger, encoding="ascii") as handle:
        text = handle.read()
    assert USER not in text and ANON not in text

    # The backup restored (here beside the first file, with the same ledger), and started.
    restored_path = tmp_path / "restored" / "prepmate.sqlite3"
    restored_path.parent.mkdir()
    shutil.copyfile(backup, restored_path)
    restored = make_app(tmp_path, SQLITE_PATH=str(restored_path), ERASURE_LEDGER_PATH=ledger)
    try:
        with restored.app_context():
            restored_store = store_ext.get(restored)
            assert search(restored_store, MARK, USER)
            with caplog.at_level(logging.WARNING, logger="prepmate"):
                [made] = reapply_erasures(restored)
            assert "1 erasures re-applied" in caplog.text
            assert made["status"] == "pending"
            erasure.run_deletions(restored_store, restored.config)
            assert search(restored_store, USER, ANON, MARK) == {}
            assert search(restored_store, OTHER, OTHER_MARK)
            # Suppressed again, by hash; and a second start finds nothing to do.
            assert "suppressions" in search(
                restored_store, erasure.person_hash(restored.config, "testapp", USER))
            assert reapply_erasures(restored) == []
    finally:
        close_app(restored)


def test_the_command_reapplies_and_says_so(client, auth, store, app, tmp_path):
    populate(client, auth, store, app, USER, ANON, MARK, "r-sia")
    assert store.flush_erased()
    backup = tmp_path / "backup.sqlite3"
    shutil.copyfile(app.config["SQLITE_PATH"], backup)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["people", "delete", USER, "--app", "testapp"])
    assert result.exit_code == 0, result.output
    restored_path = tmp_path / "restored.sqlite3"
    shutil.copyfile(backup, restored_path)
    restored = make_app(tmp_path, SQLITE_PATH=str(restored_path),
                        ERASURE_LEDGER_PATH=erasure.ledger_path(app.config))
    try:
        result = restored.test_cli_runner().invoke(args=["people", "reapply-erasures"])
        assert result.exit_code == 0, result.output
        assert "re-applying erasure" in result.output and ": done (" in result.output
        with restored.app_context():
            assert search(store_ext.get(restored), USER, ANON, MARK) == {}
        again = restored.test_cli_runner().invoke(args=["people", "reapply-erasures"])
        assert "Nothing to re-apply" in again.output
    finally:
        close_app(restored)


@pytest.mark.parametrize("line", ["{not json", '{"appId": "testapp"}'])
def test_an_unreadable_ledger_line_is_skipped(app, store, line, caplog):
    path = erasure.ledger_path(app.config)
    with open(path, "w", encoding="ascii") as handle:
        handle.write(line + "\n")
    with caplog.at_level(logging.WARNING, logger="prepmate"):
        assert reapply_erasures(app) == []
    assert "unreadable" in caplog.text


def test_the_ledger_sits_beside_the_file_or_where_it_is_told(app):
    assert erasure.ledger_path({"SQLITE_PATH": "/data/p.sqlite3"}) == "/data/p.sqlite3.erasures"
    assert erasure.ledger_path({"MONGODB_URI": "mongodb://x/db", "INSTANCE_PATH": "/srv/i",
                                "SQLITE_PATH": "x"}) == "/srv/i/erasures.jsonl"
    assert erasure.ledger_path({"ERASURE_LEDGER_PATH": "/l.jsonl", "SQLITE_PATH": "x"}) == (
        "/l.jsonl")
    assert escaped("a") == "a"


@pytest.mark.multiprocess
def test_a_deletion_whose_process_was_killed_finishes_on_the_next_run(client, auth, store,
                                                                       app):
    populate(client, auth, store, app, USER, ANON, MARK, "r-sia")
    answer = client.delete(f"/api/telemetry/people/{USER}", headers=auth)
    deletion_id = answer.json["deletionId"]
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.privacy.erasure_worker", app.config["SQLITE_PATH"]],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert worker.stdout.readline().strip() == "erased"
        worker.kill()  # SIGKILL: no finally, no lease given back
        worker.wait(10)
    finally:
        if worker.poll() is None:
            worker.kill()
        worker.stdout.close()
    half = store.get_deletion(deletion_id)
    assert half["status"] == "running" and sum(half["counts"].values()) > 0
    assert search(store, MARK)
    # Once the killed process's lease (2 s here) has run out, the next run takes the deletion
    # up where it stood and finishes it.
    assert wait_for(lambda: erasure.run_deletions(store, app.config) != [], 15, 0.2)
    assert store.get_deletion(deletion_id)["status"] == "done"
    assert search(store, USER, ANON, MARK) == {}
