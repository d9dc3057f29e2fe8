"""Batch logs of the last day, a keyset page at a time."""

from datetime import UTC, datetime, timedelta

from ...store.common import utcnow
from .filters import PAGE_SIZE, page

BATCH_WINDOW = timedelta(hours=24)


def batch_list(store, source=None, statuses=None, before=None, window=BATCH_WINDOW):
    """Batch logs of the window (24 h by default), newest first: (rows, next cursor).

    `before` is the (startTime, id) of the last row already shown (see `batch_cursor`)."""
    rows = store.batch_page(utcnow() - window, source=source or None, statuses=statuses,
                            before=before, limit=PAGE_SIZE + 1)
    return page(rows, PAGE_SIZE, lambda r: f"{r['startTime'].timestamp()!r}:{r['id']}")


def batch_cursor(store, text):
    """The (startTime, id) a batch page's cursor "<epoch seconds>:<id>" names, or None."""
    at, _, key = text.partition(":")
    key = store.parse_id(key)
    try:
        # inf, nan and times outside years 1-9999 name no batch.
        return (datetime.fromtimestamp(float(at), UTC), key) if key is not None else None
    except (ValueError, OverflowError, OSError):
        return None
