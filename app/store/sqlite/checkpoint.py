"""SQLite adapter: WAL checkpoints on a thread of their own, off the writers' path.

Committed pages sit in the WAL until a checkpoint copies them into the database file. SQLite's
own automatic checkpoint runs inside the COMMIT that takes the WAL past a number of pages (1,000
by default): that writer then copies them all and waits on two fsyncs while its request (or its
sync batch) waits too. With two cores, the copy can run beside the writers instead. Here one
thread per process checkpoints (PASSIVE: it never waits on readers or writers) shortly after
commits. SQLite's automatic checkpoint stays on (at 4,000 pages, see SqliteCore), as the
backstop and because only a writer can restart the WAL from its beginning; it then finds the
pages already copied, so it has almost nothing left to do.

The thread ends after a while without commits and starts again with the next one, and a forked
process (a gunicorn worker) starts its own.
"""

import logging
import sqlite3
import threading
import time
from urllib.parse import quote

from .forks import forked_child_registry

log = logging.getLogger("prepmate.store")

_instances = forked_child_registry()

# A checkpoint that could not copy the whole WAL is tried again this many times, the wait
# doubling from the interval up to MAX_RETRY_DELAY seconds (some 5 s in all).
MAX_RETRIES = 16
MAX_RETRY_DELAY = 0.5


class Checkpointer:
    """Runs `PRAGMA wal_checkpoint(PASSIVE)` on the SQLite file at `path` after commits.

    `notify()` after each commit; checkpoints come at most every `interval` seconds, and the
    thread ends after `idle` seconds without a commit.
    """

    def __init__(self, path, synchronous, interval=0.005, idle=5.0):
        self.path = path
        self.synchronous = synchronous
        self.interval = interval
        self.idle = idle
        self._failing = False
        self._stopping = False
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread = None
        _instances.add(self)

    def _forked(self):
        # The parent's thread does not exist in the child, and its lock may be held.
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread = None

    def notify(self):
        """A transaction committed: checkpoint soon, starting the thread when none runs."""
        # Wake first, then look: a thread that is just ending sees the wake and stays.
        self._wake.set()
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="sqlite-checkpoint", daemon=True)
                    self._thread.start()

    def stop(self):
        """End the thread now, closing its connection (a restore is replacing the file); the
        next commit starts another."""
        with self._lock:
            thread, self._stopping = self._thread, True
        try:
            if thread is not None:
                self._wake.set()
                thread.join(timeout=10)
        finally:
            with self._lock:
                self._stopping = False

    def _connect(self):
        # mode=rw: never create a file that is gone (a test's folder removed, say).
        conn = sqlite3.connect(f"file:{quote(str(self.path))}?mode=rw", uri=True,
                               isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA synchronous={self.synchronous}")
        return conn

    def _run(self):
        conn = None
        retries = 0
        try:
            while True:
                if not self._wake.wait(self.idle):
                    with self._lock:
                        if not self._wake.is_set():
                            self._thread = None
                            return
                    continue
                self._wake.clear()
                if self._stopping:
                    with self._lock:
                        self._thread = None
                    return
                delay = self.interval
                try:
                    conn = conn or self._connect()
                    busy, frames, copied = conn.execute(
                        "PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    self._failing = False
                    if (busy or copied < frames) and retries < MAX_RETRIES:
                        # Another process was checkpointing, or a reader holds an older
                        # snapshot: part of the WAL is not in the file yet. Try again soon,
                        # waiting longer each time, rather than wait for the next commit.
                        retries += 1
                        delay = min(self.interval * 2 ** retries, MAX_RETRY_DELAY)
                        self._wake.set()
                    else:
                        retries = 0
                except sqlite3.Error as exc:
                    # The writers' own automatic checkpoint still runs; say once why this did not.
                    if not self._failing:
                        log.warning("background checkpoint of %s failed: %s", self.path, exc)
                    self._failing = True
                    if conn is not None:
                        conn.close()
                        conn = None
                time.sleep(delay)
        except BaseException:
            # Whatever ended the thread, the next commit starts another.
            with self._lock:
                self._thread = None
            raise
        finally:
            if conn is not None:
                conn.close()
