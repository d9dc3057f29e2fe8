"""What the event explorer and the export read: events by filter, newest first, in keyset pages
and chunks, their counts per hour or day, and one event with its queue item and batch log.

A filter is a dict `{appId?, userIds?, eventTypes?, since?, until?, eventId?}`: `userIds`
matches an event's userId or anonymousId (a person's events), `since`/`until` the half-open
range [since, until) of its timestamp. Events come newest first by (timestamp, store id); each
carries an opaque `key` (a string) that `before` takes back to resume after it. The rules on
top (what a cursor holds, how limits are bounded) live above the port.
"""

from collections.abc import Iterator
from datetime import datetime
from typing import Any, Protocol

Doc = dict[str, Any]
# The fields a filter may name.
FILTER_FIELDS = ("appId", "userIds", "eventTypes", "since", "until", "eventId")
BUCKETS = ("hour", "day")
# The fields of an event as the explorer reads it (besides its `key`).
EVENT_FIELDS = ("appId", "eventId", "userId", "anonymousId", "eventType", "eventData",
                "metadata", "timestamp", "createdAt", "status")


def event_filter(filters):
    """`filters` checked: ValueError for an unknown field, or a list field given as a bare
    string (an adapter puts them in a query, so only known shapes may reach it)."""
    unknown = set(filters) - set(FILTER_FIELDS)
    if unknown:
        raise ValueError(f"events have no filter {sorted(unknown)}")
    for name in ("userIds", "eventTypes"):
        if name in filters and isinstance(filters[name], str | bytes):
            raise ValueError(f"{name} is a list of strings")
    return filters


class EventsPort(Protocol):
    """The explorer's and the export's reads of telemetry; every one bounded and index-backed."""

    def event_page(self, filters: Doc, before: str | None = None, limit: int = 50) -> list[Doc]:
        """At most `limit` events matching `filters`, newest first, after the event whose `key`
        is `before` (ValueError for a key this store never made)."""

    def event_chunks(self, filters: Doc, chunk: int = 1000) -> Iterator[list[Doc]]:
        """Every event matching `filters`, newest first, in lists of at most `chunk`."""

    def event_histogram(self, filters: Doc, bucket: str) -> list[tuple[datetime, str, int]]:
        """(bucket start, eventType, count) of the events matching `filters`, per UTC "hour"
        or "day", oldest bucket first."""

    def event_detail(self, app_id: str, event_id: str) -> Doc | None:
        """One event with its `queueItem` and `batchLog` (each None when gone), or None."""


def chunks_of_pages(page, filters, chunk):
    """Every event `page(filters, before, limit)` finds, in lists of at most `chunk`: one
    keyset page after another, so memory holds one chunk whatever the total."""
    before = None
    while True:
        rows = page(filters, before, chunk)
        if rows:
            yield rows
        if len(rows) < chunk:
            return
        before = rows[-1]["key"]
