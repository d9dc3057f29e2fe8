"""The SQLite store copies committed pages into its database file in the background."""

import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from app.ingest.queue import enqueue
from app.store import create_store, schema
from tests.waiting import wait_for

from .helpers import event_item, open_store

ROOT = Path(__file__).resolve().parents[2]


def in_database_file(path, item_id, tmp_path):
    """Whether the item is in the database file itself, leaving out what is still in its WAL."""
    copy = tmp_path / f"file-only-{time.monotonic_ns()}.sqlite3"
    shutil.copyfile(path, copy)
    conn = sqlite3.connect(copy)
    try:
        return conn.execute("SELECT COUNT(*) FROM sync_queue WHERE itemId = ?",
                            (item_id,)).fetchone()[0] == 1
    except sqlite3.DatabaseError:
        return False  # the file does not hold the table yet either
    finally:
        conn.close()


def checkpoint_threads():
    return [t for t in threading.enumerate() if t.name == "sqlite-checkpoint"]


def test_a_commit_reaches_the_database_file_without_further_writes(tmp_path):
    # A name that means something else in a URI: the checkpoint must open this very file.
    path = tmp_path / "my store #1?.sqlite3"
    store = open_store(path)
    enqueue(store, "app1", [event_item("e1")])
    # SQLite alone would leave these pages in the WAL until it held 1,000 of them.
    assert wait_for(lambda: in_database_file(path, "e1", tmp_path), seconds=30)
    assert store.get_queue_item("app1", "e1")["status"] == "pending"
    store.close()


def test_the_thread_ends_when_the_store_is_quiet_and_comes_back_with_the_next_commit(tmp_path):
    path = tmp_path / "store.sqlite3"
    store = open_store(path)
    store.checkpointer.idle = 0.2
    enqueue(store, "app1", [event_item("e1")])
    [thread] = [t for t in checkpoint_threads() if t is store.checkpointer._thread]
    assert wait_for(lambda: not thread.is_alive())

    enqueue(store, "app1", [event_item("e2")])
    assert store.checkpointer._thread not in (None, thread)
    assert wait_for(lambda: in_database_file(path, "e2", tmp_path), seconds=30)
    store.close()


FORKED = """
import os, sys
from app.ingest.queue import enqueue
from tests.store.helpers import event_item, open_store
from tests.store.test_sqlite_checkpoint import in_database_file
from tests.waiting import wait_for
from pathlib import Path

path, folder = Path(sys.argv[1]), Path(sys.argv[2])
store = open_store(path)
enqueue(store, "app1", [event_item("parent")])
assert wait_for(lambda: in_database_file(path, "parent", folder), seconds=30)
pid = os.fork()
if pid == 0:  # the child: a worker forked from a process whose thread is running
    try:
        enqueue(store, "app1", [event_item("child")])
        found = wait_for(lambda: in_database_file(path, "child", folder), seconds=30)
    finally:
        os._exit(0 if found else 1)
_, status = os.waitpid(pid, 0)
assert os.waitstatus_to_exitcode(status) == 0, "the child's commit is not in the file"
assert store.get_queue_item("app1", "child") is not None
store.close()
"""


def test_a_forked_process_checkpoints_its_own_commits(tmp_path):
    # In a process of its own: the test process runs other tests' threads, and a fork while one
    # of them is inside SQLite would leave the child waiting on a lock no thread of it holds.
    done = subprocess.run([sys.executable, "-c", FORKED, str(tmp_path / "store.sqlite3"),
                           str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_without_the_thread_the_writers_own_checkpoint_still_bounds_the_wal(tmp_path):
    path = tmp_path / "store.sqlite3"
    store = create_store({"SQLITE_PATH": str(path)})
    store.wal_autocheckpoint_pages = 50
    store.checkpointer.notify = lambda: None  # a checkpointer that never runs
    schema.open_store(store)
    page = 4096
    for _ in range(40):  # about 400 pages, in transactions of about 10
        with store._transaction() as conn:
            conn.executemany("INSERT INTO audit_log (at, actor, action, details) "
                             "VALUES (0, 'test', 'fill', ?)",
                             [("x" * 3500,) for _ in range(10)])
    assert store._scalar("SELECT COUNT(*) FROM audit_log") == 400
    # The WAL restarts from its beginning once checkpointed: it never holds the 400 pages.
    assert os.path.getsize(f"{path}-wal") < 120 * page
    store.close()


def test_a_checkpoint_that_fails_is_reported_once_and_writes_go_on(tmp_path, caplog):
    store = create_store({"SQLITE_PATH": str(tmp_path / "store.sqlite3")})
    store.checkpointer.path = tmp_path / "gone" / "store.sqlite3"
    with caplog.at_level("WARNING", logger="prepmate.store"):
        schema.open_store(store)  # commits, as the writes below do
        for n in range(3):
            enqueue(store, "app1", [event_item(f"e{n}")])
            time.sleep(0.05)
    failures = [r for r in caplog.records if "background checkpoint" in r.getMessage()]
    assert len(failures) == 1 and "gone" in failures[0].getMessage()
    assert store.queue_counts() == {"pending": 3}
    store.close()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_checkpoint_thread_that_dies_is_replaced_with_the_next_commit(tmp_path):
    path = tmp_path / "store.sqlite3"
    store = create_store({"SQLITE_PATH": str(path)})
    connect = store.checkpointer._connect
    calls = []

    def broken_once():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the thread dies")
        return connect()

    store.checkpointer._connect = broken_once
    store.checkpointer.idle = 0.2
    # Opening commits: the first commit's thread dies; a later one's (if any) soon ends idle.
    schema.open_store(store)
    assert wait_for(lambda: store.checkpointer._thread is None) and calls
    enqueue(store, "app1", [event_item("e2")])
    assert wait_for(lambda: in_database_file(path, "e2", tmp_path), seconds=30)
    store.close()


def test_a_checkpoint_held_back_by_a_reader_is_tried_again_once_the_reader_is_done(tmp_path):
    path = tmp_path / "store.sqlite3"
    store = open_store(path)
    enqueue(store, "app1", [event_item("e1")])
    assert wait_for(lambda: in_database_file(path, "e1", tmp_path), seconds=30)
    # Another process's reader holds a snapshot from before the next commit: the checkpoint
    # after that commit cannot copy it into the file while the snapshot is open.
    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT COUNT(*) FROM sync_queue").fetchone()
    enqueue(store, "app1", [event_item("e2")])
    time.sleep(0.3)
    assert not in_database_file(path, "e2", tmp_path)
    reader.execute("COMMIT")
    reader.close()
    # No further commit: the checkpointer tries again by itself.
    assert wait_for(lambda: in_database_file(path, "e2", tmp_path), seconds=30)
    store.close()
