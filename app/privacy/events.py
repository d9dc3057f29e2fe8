"""Seeing the events: filtered pages newest first with opaque cursors, and the streamed export.

The store reads (store/port/events.py) find events by filter in keyset order; the rules here
say what a cursor is and how an export is written. A cursor is the base64url of a small JSON
object holding the last event's store key: opaque to clients, refused whole (InvalidCursor)
when it was not made here, whatever it holds. An export is a generator of text pieces, one
chunk of events at a time, so its memory stays the same whatever the number of events.
"""

import base64
import binascii
import csv
import io
import json

import orjson

# The longest cursor this module makes is far shorter; anything longer is not one of ours.
MAX_CURSOR_CHARS = 512
EXPORT_CHUNK = 1000
FORMATS = ("ndjson", "csv")
MEDIA_TYPES = {"ndjson": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}
CSV_COLUMNS = ("eventId", "eventType", "userId", "anonymousId", "timestamp", "receivedAt",
               "createdAt", "eventData", "metadata")
# A spreadsheet reads a cell that starts with one of these as a formula (OWASP's list; tab and
# carriage return too): such a cell is written with a leading apostrophe.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class InvalidCursor(ValueError):
    """A cursor this service did not make (forged, truncated or from another store)."""


def encode_cursor(key):
    """The opaque cursor that resumes after the event whose store key is `key`."""
    text = json.dumps({"k": key}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(text).rstrip(b"=").decode()


def decode_cursor(cursor):
    """The store key a cursor holds; InvalidCursor for anything else."""
    if not isinstance(cursor, str) or not 0 < len(cursor) <= MAX_CURSOR_CHARS:
        raise InvalidCursor("not a cursor")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError, RecursionError) as exc:
        raise InvalidCursor("not a cursor") from exc
    if not isinstance(value, dict) or set(value) != {"k"} or not isinstance(value["k"], str):
        raise InvalidCursor("not a cursor")
    return value["k"]


def event_filters(app_id, user_ids=None, event_types=None, since=None, until=None,
                  event_id=None):
    """The store filter of an app's events: the given ids (each matching an event's userId or
    anonymousId), types, half-open time range and eventId; None and [] mean "any"."""
    filters = {"appId": app_id}
    if user_ids:
        filters["userIds"] = list(dict.fromkeys(user_ids))
    if event_types:
        filters["eventTypes"] = list(dict.fromkeys(event_types))
    if since is not None:
        filters["since"] = since
    if until is not None:
        filters["until"] = until
    if event_id is not None:
        filters["eventId"] = event_id
    return filters


def public_event(doc):
    """An event as the API and the export show it (the store's key left out; times as
    datetimes, which every writer here gives in ISO 8601)."""
    metadata = doc.get("metadata") or {}
    return {"eventId": doc["eventId"], "appId": doc["appId"], "userId": doc.get("userId"),
            "anonymousId": doc.get("anonymousId"), "eventType": doc["eventType"],
            "eventData": doc.get("eventData"), "metadata": metadata,
            "timestamp": doc.get("timestamp"), "receivedAt": metadata.get("receivedAt"),
            "createdAt": doc.get("createdAt"), "status": doc.get("status")}


def _iso(value):
    return None if value is None else value.isoformat()


def json_ready(event):
    """A public event with its times as ISO 8601 text."""
    return {**event, "timestamp": _iso(event["timestamp"]),
            "createdAt": _iso(event["createdAt"])}


def events_page(store, filters, cursor=None, limit=50):
    """A page of events newest first: (public events, the next page's cursor or None).
    InvalidCursor for a cursor not made here."""
    before = None if cursor is None else decode_cursor(cursor)
    try:
        rows = store.event_page(filters, before=before, limit=limit + 1)
    except ValueError as exc:
        raise InvalidCursor("not a cursor") from exc
    more = len(rows) > limit
    rows = rows[:limit]
    return [public_event(row) for row in rows], (encode_cursor(rows[-1]["key"]) if more
                                                 else None)


def _json(value):
    """Compact JSON text (orjson; the standard library for what it declines, such as integers
    past 64 bits). A datetime is written as isoformat() writes it."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_iso)


def safe_cell(value):
    """A CSV cell a spreadsheet shows as text: no formula, whatever the event held."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def export_pieces(store, filters, fmt, chunk=None):
    """The export of every matching event, newest first, as text pieces (one per chunk of
    events): NDJSON, one event per line, or CSV with a header row (CSV_COLUMNS; eventData and
    metadata as JSON)."""
    if fmt not in FORMATS:
        raise ValueError(f"no export format {fmt!r}")
    chunk = chunk or EXPORT_CHUNK
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
        yield buffer.getvalue()
    for events in store.event_chunks(filters, chunk=chunk):
        if fmt == "ndjson":
            yield "".join(_json(public_event(doc)) + "\n" for doc in events)
            continue
        buffer.seek(0)
        buffer.truncate()
        for doc in events:
            event = public_event(doc)
            event = json_ready(event)
            writer.writerow([safe_cell(event[name]) if name not in ("eventData", "metadata")
                             else safe_cell(_json(event[name])) for name in CSV_COLUMNS])
        yield buffer.getvalue()
