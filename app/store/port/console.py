"""What the operator console reads and changes: queue pages, batch logs, counts and actions.

The console's rules (which states an operator may act on, how a page over several states is
merged and cut, what a search looks for, how cursors are made) live in app/console/services;
these operations only fetch, count and change what they are told to.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

Doc = dict[str, Any]
# The fields a queue look-up may name a value of, in `match` ({field: value}).
QUEUE_MATCH_FIELDS = ("appId", "itemType", "userId", "itemId", "batchId")


def match_fields(match):
    """The fields `match` names, in QUEUE_MATCH_FIELDS order; ValueError for any other (an
    adapter puts them in a query, so only known names may reach it)."""
    unknown = set(match) - set(QUEUE_MATCH_FIELDS)
    if unknown:
        raise ValueError(f"queue items have no field {sorted(unknown)}")
    return [name for name in QUEUE_MATCH_FIELDS if name in match]


class ConsoleStore(Protocol):
    """The console's operations; ids are the store's own (see CorePort.parse_id), and a
    store's ids sort, with <, in the order its rows were made."""

    def queue_app_ids(self) -> list[str]:
        """The apps that have queue items, sorted."""

    def console_queue_counts(self) -> dict[str, int]:
        """Queue items by state, every state present (zeros too), fast on a large queue."""

    def queue_page(self, match: Doc, status: str | None = None,
                   app_ids: Sequence[str] | None = None, before_id: object = None,
                   limit: int = 50) -> list[Doc]:
        """Queue items without payloads whose fields equal `match`, in `status` (any when None)
        and one of `app_ids` (any when None), ids below `before_id`, newest first, at most
        `limit`; a `before_id` that names no id finds nothing."""

    def count_queue(self, match: Doc, statuses: Sequence[str] | None = None) -> int:
        """How many queue items have the fields of `match` and one of `statuses` (any when
        None)."""

    def queue_item(self, key: object) -> Doc | None:
        """One queue item with its payload by its store id, or None."""

    def retry_queue_items(self, now: datetime, statuses: Sequence[str],
                          ids: Sequence[object] | None = None,
                          match: Doc | None = None) -> int:
        """Put the items in `statuses` with these ids (or, without ids, those with the fields of
        `match`) back to pending, due `now`, attempts zeroed, lease dropped; how many."""

    def discard_queue_items(self, statuses: Sequence[str], ids: Sequence[object] | None = None,
                            match: Doc | None = None) -> int:
        """Delete the items in `statuses` with these ids (or, without ids, those with the
        fields of `match`); how many."""

    def batch_page(self, since: datetime, source: str | None = None,
                   statuses: Sequence[str] | None = None,
                   before: tuple[datetime, object] | None = None, limit: int = 50) -> list[Doc]:
        """Batch logs without per-item results (with errorCount) started since `since`, of
        `source` and `statuses` when given, before the (startTime, id) `before`, newest
        first."""

    def batch_log(self, key: object) -> Doc | None:
        """One batch log with its per-item results by its store id, or None."""

    def sync_minutes(self, since: datetime) -> list[tuple[int, int, int]]:
        """(epoch minute, items processed, items failed) by sync runs since `since`, by
        minute."""

    def sync_run_totals(self) -> dict[str, float]:
        """Sync runs' batch logs: {runs: how many, seconds: their summed duration}."""

    def event_type_counts(self) -> list[Doc]:
        """Applied events as {appId, eventType, count}, most frequent first."""

    def conflict_counts(self) -> dict[str, int]:
        """Conflicts by status (statuses with none left out)."""

    def rejected_counts(self) -> dict[str, int]:
        """Items refused at ingest in the batch logs kept, by the logs' source (sources with
        none left out)."""
