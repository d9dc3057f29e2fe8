"""SQLite adapter: the open lock, so that a restore never replaces a file a process is using.

Every process that has the store open (a gunicorn worker, `flask run`, the scheduler inside
them, a command) holds a shared `flock` on the sidecar file `<SQLITE_PATH>.lock` from its first
connection until its last is closed, or until it ends: the kernel lets go of it when a process
dies, kill -9 included, so a crashed server never blocks a restore. A restore takes the lock
exclusively, without waiting, and is refused while anyone holds it; a process that opens the
store during a restore waits for it (up to SQLITE_BUSY_TIMEOUT_MS), then opens the restored file.

flock is advisory and local: it holds between processes of one host on a local file system (as
SQLite's own WAL mode needs), not across hosts sharing a network file system.
"""

import fcntl
import os
import threading
import time
import weakref

from ..errors import StoreInUse, StoreUnavailable
from .forks import forked_child_registry

LOCK_SUFFIX = ".lock"
# How often a process that opens the store during a restore looks again.
RETRY_SECONDS = 0.05

_instances = forked_child_registry()


class Handle:
    """One open connection, as its thread holds it: the lock counts the handles alive (a
    thread that ends drops its handle, and so its count)."""

    __slots__ = ("conn", "__weakref__")

    def __init__(self, conn):
        self.conn = conn


class OpenLock:
    """The shared lock of one store in this process, held while any of its connections is."""

    def __init__(self, path):
        self.path = f"{path}{LOCK_SUFFIX}"
        # Bumped when every connection is closed at once (a restore): threads then open anew.
        self.generation = 0
        self._forked()
        _instances.add(self)

    def _forked(self):
        # A child does not hold its parent's connections; the file it inherited stays open
        # (closing it is harmless, but unlocking it would unlock the parent's too).
        self._mutex = threading.Lock()
        self._handles = weakref.WeakSet()
        self._fd = None
        self._pid = None

    def connect(self, connect, timeout):
        """A Handle of `connect()`'s connection, made once this process holds the lock
        (StoreUnavailable when a restore holds it for longer than `timeout` seconds)."""
        with self._mutex:
            if self._pid != os.getpid():
                self._fd = self._take(fcntl.LOCK_SH, timeout)
                self._pid = os.getpid()
            handle = Handle(connect())
            self._handles.add(handle)
            return handle

    def closed(self, handle):
        """`handle`'s connection is closed: let go of the lock when it was the last."""
        with self._mutex:
            self._handles.discard(handle)
            if not self._handles:
                self._release()

    def close_all(self):
        """Close every connection of this process's threads and let go of the lock."""
        with self._mutex:
            for handle in list(self._handles):
                handle.conn.close()
            self._handles = weakref.WeakSet()
            self.generation += 1
            self._release()

    def exclusive(self):
        """The lock file's descriptor, locked exclusively: close it to let go. StoreInUse
        while any process holds the lock (this one must have let go of its own first)."""
        return self._take(fcntl.LOCK_EX, None)

    def _take(self, kind, timeout):
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, kind | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                if deadline is None:
                    os.close(fd)
                    raise StoreInUse(
                        f"the store at {self.path[:-len(LOCK_SUFFIX)]} is open in another "
                        "process (a server, its scheduler or a command): stop every one of "
                        "them first") from None
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise StoreUnavailable("the store is being restored from a backup; try "
                                           "again when the restore has finished") from None
                time.sleep(RETRY_SECONDS)
            except BaseException:
                os.close(fd)
                raise

    def __del__(self):
        # A store dropped without close() (a test's app): its descriptor goes with it.
        self._release()

    def _release(self):
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)  # the lock goes with the last descriptor of its open file
        self._fd = self._pid = None
