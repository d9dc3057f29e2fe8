"""Sync runs' records, so that any process can say how any run is going."""

from typing import Any, Protocol

Doc = dict[str, Any]


class RunsPort(Protocol):
    """One record per sync run, its progress rewritten as its batches go."""

    def add_sync_run(self, doc: Doc) -> None:
        """Store a new run's record."""

    def update_sync_run(self, run_id: str, changes: Doc, durable: bool = True) -> bool:
        """Change fields of a run's record; True when found. A progress note need not be
        `durable`."""

    def get_sync_run(self, run_id: str) -> Doc | None:
        """A run's record, or None."""

    def delete_sync_run(self, run_id: str) -> None:
        """Forget a run's record (a run that never got the lease)."""
