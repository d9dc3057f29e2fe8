"""SQLite adapter: integrity checks and counts, a backup to one file while the service writes,
and a restore from one.

The backup is `VACUUM INTO`: one statement that reads the store inside one read transaction and
writes a compact, standalone copy (rollback-journal mode, no -wal beside it). In WAL mode a
reader never takes the write lock, so writers go on while it runs (bench/backup_writers.py
measures it); the copy holds exactly what was committed when it began. SQLite's stepwise online
backup was not used: it starts again whenever another connection writes, so under steady writes
it may never end.
"""

import os
import shutil
import sqlite3
import time
from urllib.parse import quote

from ..errors import BackupInvalid, StoreUnavailable
from .core import first_value

# The files SQLite keeps beside a store: a restored store must not meet its predecessor's.
JOURNALS = ("-wal", "-shm", "-journal")
# How often, at most, a backup reports its progress (seconds).
PROGRESS_EVERY = 0.1
# SQLite virtual machine steps between two looks at the progress.
PROGRESS_STEPS = 10_000


def _fsync(path, directory=False):
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def inspect_backup(path):
    """The schema version of the backup file at `path` after checking it is a sound store:
    BackupInvalid naming what is wrong otherwise."""
    if not os.path.isfile(path):
        raise BackupInvalid(f"no backup file at {path}")
    if os.path.exists(f"{path}-wal"):
        raise BackupInvalid(f"{path} has a -wal file beside it: it is not a standalone copy "
                            "(make backups with `flask --app wsgi store backup`)")
    # immutable: read the file as it is, without making -shm or -wal files beside it.
    try:
        conn = sqlite3.connect(f"file:{quote(os.path.abspath(path))}?immutable=1", uri=True)
    except sqlite3.Error as exc:
        raise BackupInvalid(f"{path} cannot be opened: {exc}") from exc
    try:
        problems = [row[0] for row in conn.execute("PRAGMA integrity_check")]
        if problems != ["ok"]:
            raise BackupInvalid(f"{path} fails SQLite's integrity check: "
                                + "; ".join(problems[:5]))
        if not first_value(conn, "SELECT 1 FROM sqlite_master WHERE type = 'table' "
                                 "AND name = 'schema_versions'"):
            raise BackupInvalid(f"{path} is not a store of this service (it has no "
                                "schema_versions table)")
        version = first_value(conn, "SELECT MAX(version) FROM schema_versions")
        if version is None:
            raise BackupInvalid(f"{path} records no schema version")
        return version
    except sqlite3.DatabaseError as exc:
        raise BackupInvalid(f"{path} is not a SQLite store: {exc}") from exc
    finally:
        conn.close()


class SqliteMaintenance:
    """Checks and counts (port operations), backup and restore (optional capabilities)."""

    def integrity_problems(self):
        """What SQLite's integrity and foreign key checks find wrong, one line each ([] when
        nothing). A read transaction: writers go on meanwhile."""
        with self._reading() as conn:
            try:
                cur = conn.execute("PRAGMA integrity_check")
                cur.row_factory = None
                problems = [row[0] for row in cur if row[0] != "ok"]
                cur = conn.execute("PRAGMA foreign_key_check")
                cur.row_factory = None
                problems += [f"{table} row {rowid}: no {parent} row for foreign key {fk}"
                             for table, rowid, parent, fk in cur]
            except sqlite3.OperationalError:
                raise  # locked or unreachable: the store is unavailable, not damaged
            except sqlite3.DatabaseError as exc:
                # A file too damaged for the check to go through it ("malformed").
                problems = [f"the check could not read the file: {exc}"]
        return problems

    def collection_counts(self):
        """How many rows each table holds, by its name."""
        with self._reading() as conn:
            names = [row["name"] for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name")]
            return {name: first_value(conn, f'SELECT COUNT(*) FROM "{name}"')
                    for name in names}

    def _backup_to_file(self, path, overwrite=False, progress=None):
        """BackupToFile (app/store/port/maintenance.py): VACUUM INTO a `.partial` file beside
        `path`, fsynced, then put in place (never over an existing file unless `overwrite`)."""
        target = os.path.abspath(path)
        if os.path.exists(target) and not overwrite:
            raise FileExistsError(f"{path} exists: choose another name, or --force")
        partial = f"{target}.partial"
        _remove(partial)
        started = time.monotonic()
        try:
            conn = sqlite3.connect(f"file:{quote(os.path.abspath(self.path))}?mode=rw", uri=True,
                                   isolation_level=None, timeout=self.busy_timeout_ms / 1000)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot open SQLite at {self.path}: {exc}") from exc
        try:
            total = (first_value(conn, "PRAGMA page_count")
                     * first_value(conn, "PRAGMA page_size"))
            if progress is not None:
                conn.set_progress_handler(self._progress_reporter(partial, total, progress),
                                          PROGRESS_STEPS)
            conn.execute("VACUUM INTO ?", (partial,))
        except sqlite3.Error as exc:
            _remove(partial)
            raise StoreUnavailable(f"the backup of {self.path} failed: {exc}") from exc
        except BaseException:
            _remove(partial)
            raise
        finally:
            conn.close()
        _fsync(partial)
        if overwrite:
            os.replace(partial, target)
        else:
            try:
                os.link(partial, target)  # fails, rather than replace, a file made meanwhile
            finally:
                _remove(partial)
        _fsync(os.path.dirname(target), directory=True)
        size = os.path.getsize(target)
        if progress is not None:
            progress(total, total)
        return {"path": target, "bytes": size, "seconds": time.monotonic() - started}

    @staticmethod
    def _progress_reporter(partial, total, progress):
        """A progress handler for SQLite: the copy's size so far against the store's, at most
        every PROGRESS_EVERY seconds."""
        last = [0.0]

        def report():
            now = time.monotonic()
            if now - last[0] >= PROGRESS_EVERY:
                last[0] = now
                try:
                    done = os.path.getsize(partial)
                except OSError:
                    done = 0
                progress(min(done, total), total)
            return 0  # go on

        return report

    def _restore_from_file(self, path, max_version):
        """RestoreFromFile (app/store/port/maintenance.py): checks the backup, takes the open
        lock exclusively, removes the store's journal files and renames a copy of the backup
        into its place."""
        source = os.path.abspath(path)
        if source == os.path.abspath(self.path):
            raise BackupInvalid(f"{path} is the store itself")
        version = inspect_backup(source)
        if version > max_version:
            raise BackupInvalid(f"{path} is at schema version {version}, made by a later "
                                f"release (this one knows versions up to {max_version})")
        # This process lets go of the store first: its own lock would refuse the restore.
        self.close()
        self.open_lock.close_all()
        self.checkpointer.stop()
        lock = self.open_lock.exclusive()
        try:
            copy = f"{os.path.abspath(self.path)}.restoring"
            try:
                shutil.copyfile(source, copy)
                _fsync(copy)
            except BaseException:
                _remove(copy)
                raise
            # The journals first: a stale WAL beside the restored file would be replayed into it.
            for suffix in JOURNALS:
                _remove(f"{self.path}{suffix}")
            os.replace(copy, self.path)
            _fsync(os.path.dirname(os.path.abspath(self.path)), directory=True)
        finally:
            os.close(lock)
        return {"path": source, "schemaVersion": version}
