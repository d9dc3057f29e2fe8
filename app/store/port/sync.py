"""What the sync engine asks of a store: claims and outcomes, telemetry, record versions,
conflicts and client sequences; and the optional fast path ApplyNewEvents."""

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

Doc = dict[str, Any]


class SyncPort(Protocol):
    """The sync engine's operations. Writes are meant for the caller's unit_of_work()."""

    def claim_items(self, now: datetime, lease_until: datetime, limit: int) -> list[Doc]:
        """Claim up to `limit` due items (priority high to low, then arrival) until
        `lease_until`, each whole, its `attempts` counting this attempt; a stored item that
        cannot be read back comes as an unreadable item (store/common.py)."""

    def finish_items(self, updates: list[Doc], now: datetime) -> None:
        """Write claimed items' outcomes (id, status, attempts, nextAttemptAt, lastError,
        leaseOwner) where the claim that made them still holds the item."""

    def set_item_status(self, app_id: str, item_id: str, status: str, now: datetime,
                        last_error: str | None = None) -> None:
        """Set one queue item's status (a resolved conflict's item becomes done)."""

    def add_sync_log(self, doc: Doc) -> None:
        """Store a sync batch's log."""

    def sync_logs(self, limit: int = 100) -> list[Doc]:
        """Sync runs' batch logs (source scheduled or manual), newest first."""

    def event_hashes(self, app_id: str, event_ids: Iterable[str]) -> dict[str, str]:
        """payloadHash of the stored events among `event_ids`, by eventId."""

    def insert_events(self, docs: list[Doc]) -> None:
        """Store telemetry documents (sync/documents.py builds them); an (appId, eventId)
        already stored is kept. DataRejected when the store refuses one (others may be
        stored: storing them again keeps them)."""

    def get_event(self, app_id: str, event_id: str) -> Doc | None:
        """The stored telemetry event, or None."""

    def replace_event(self, app_id: str, event_id: str, changes: Doc) -> None:
        """Overwrite fields of a stored event (a resolved payload conflict)."""

    def event_counts(self, app_id: str, start: datetime | None = None,
                     end: datetime | None = None) -> tuple[list[Doc], list[Doc]]:
        """Event counts by type and by (UTC) day and type, `start` <= timestamp < `end`."""

    def get_record(self, app_id: str, record_type: str, record_id: str) -> Doc | None:
        """The current record, or None."""

    def get_record_version(self, app_id: str, record_type: str, record_id: str,
                           version: int) -> Doc | None:
        """One version of a record from its history, or None."""

    def version_written_by(self, app_id: str, item_id: str) -> Doc | None:
        """The record version a queue item wrote, or None."""

    def write_record(self, doc: Doc, expected_version: int) -> Doc:
        """Store `doc` as the record's next version if it is still at `expected_version`
        (StoreUnavailable otherwise), keep it in the history and number the change."""

    def records_changed(self, app_id: str, record_type: str | None = None, since: int = 0,
                        limit: int = 100) -> list[Doc]:
        """Records changed after checkpoint `since`, oldest change first."""

    def add_conflict(self, doc: Doc) -> Doc:
        """Store a conflict; returns it with its id."""

    def get_conflict(self, app_id: str | None, conflict_id: object) -> Doc | None:
        """A conflict by id, or None; app_id None finds any app's."""

    def list_conflicts(self, app_id: str | None = None, status: str | None = None,
                       limit: int = 50, before_id: object = None,
                       values: bool = True) -> list[Doc]:
        """Conflicts newest first, before the opaque cursor `before_id`; `values` False leaves
        out base, server and client."""

    def close_conflict(self, conflict_id: object, resolution: object, resolved_by: str,
                       at: datetime) -> bool:
        """Mark an open conflict resolved; False when it was not open (someone was first)."""

    def client_seqs(self, app_id: str, client_ids: Iterable[str]) -> dict[str, int]:
        """The last applied seq of each of an app's clients that has one."""

    def save_client_seqs(self, app_id: str, seqs: dict[str, int]) -> None:
        """Raise the stored last seq of each client to the given one (never lower it)."""


class ApplyNewEvents(Protocol):
    """Optional fast path of a store whose unit of work can be taken back (SQLite)."""

    def __call__(self, now: datetime, limit: int) -> list[tuple[str, str]] | None:
        """In the caller's unit: claim up to `limit` due items and, when every one is an event
        without seq whose eventId is new, store them as telemetry and mark them done; their
        (appId, itemId) pairs in claim order, [] when nothing is due, or None (having changed
        nothing) when the batch is not such a batch."""
