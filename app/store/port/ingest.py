"""The queue's ingest side: the small writes app/ingest/queue.py builds its rules from, and the
reads of batches and queue entries."""

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol

Doc = dict[str, Any]


class IngestPort(Protocol):
    """Queue entries and client batch logs as ingest writes them, and their read side.

    The writes are meant for one `unit_of_work()`: enqueue() calls them in order and decides
    everything (duplicates, variants, the backlog) itself."""

    def prepare_items(self, items: Sequence[Doc]) -> list[object]:
        """The queue documents encoded for insert_items, in order (done before the unit starts)."""

    def existing_items(self, app_id: str, item_ids: Sequence[str]) -> dict[str, tuple]:
        """{itemId: (batchId, payloadHash)} of the given ids (variant ids alike) already stored."""

    def open_item_counts(self, app_id: str, user_ids: Sequence[str | None],
                         states: Iterable[str]) -> dict[str | None, int]:
        """{userId: how many of the app's queue entries of that user are in `states`}."""

    def insert_items(self, prepared: Sequence[object]) -> set[str]:
        """Insert prepared queue documents, never an (appId, itemId) twice; the ids skipped
        because that id was already stored."""

    def insert_batch_log(self, doc: Doc) -> bool:
        """Store a client batch log; False, storing nothing, when its (appId, batchId) exists."""

    def get_batch_log(self, app_id: str | None, batch_id: str) -> Doc | None:
        """A batch log by id; app_id None finds sync runs, which belong to no app."""

    def batch_items(self, app_id: str, batch_id: str) -> list[Doc]:
        """The queue entries (without payloads) a client batch created, in arrival order."""

    def queue_counts(self, app_id: str | None = None,
                     user_id: str | None = None) -> dict[str, int]:
        """Queue entries by status (states with none left out), optionally of one app and user."""

    def state_counts(self, app_id: str | None = None) -> dict[str, int]:
        """Every queue state's count (zeros included), optionally of one app."""

    def get_queue_item(self, app_id: str | None, item_id: str) -> Doc | None:
        """One queue entry with its payload, or None; app_id None searches every app."""

    def last_sync_run(self) -> Doc | None:
        """The newest sync run's batch log (source scheduled or manual), or None."""

    def first_item_time(self) -> datetime | None:
        """When the oldest queue entry arrived, or None for an empty queue."""

    def oldest_item_time(self, statuses: Sequence[str]) -> datetime | None:
        """When the oldest queue entry in one of `statuses` arrived, or None when none is
        (one index seek per status)."""
