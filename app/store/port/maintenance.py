"""What an operator asks of a store beside the service's work: its own integrity checks, the
size of each table, and (optional capabilities, SQLite only) a backup to a file and a restore
from one. MongoDB is backed up with its own tools (mongodump, snapshots): see the README."""

from collections.abc import Callable
from typing import Protocol


class MaintenancePort(Protocol):
    """Checks and counts for `flask --app wsgi store check`."""

    def integrity_problems(self) -> list[str]:
        """What the store's own checks find wrong, one line each, [] when nothing: SQLite's
        integrity and foreign key checks; on MongoDB, indexes this release makes that are
        missing."""

    def collection_counts(self) -> dict[str, int]:
        """How many rows (documents) each table (collection) holds, by its name."""


class BackupToFile(Protocol):
    """Optional: a consistent copy of the store, taken while it serves, to one file."""

    def __call__(self, path: str, overwrite: bool = False,
                 progress: Callable[[int, int], None] | None = None) -> dict:
        """Copy the store as it is at one instant to the standalone file `path` (nothing
        beside it needed), while writers go on; FileExistsError when `path` exists and
        `overwrite` is false. `progress(done, total)` is called in bytes as the copy grows.
        Returns {"path", "bytes", "seconds"}."""


class RestoreFromFile(Protocol):
    """Optional: put a backup file in the store's place."""

    def __call__(self, path: str, max_version: int) -> dict:
        """Replace the store with the backup at `path` unless another process has the store
        open (StoreInUse). The backup is checked first (BackupInvalid when it is not a sound
        store, or is past schema version `max_version`); the store's stale journal files go.
        Returns {"path", "schemaVersion"}: the backup's version, upgraded by the next open."""
