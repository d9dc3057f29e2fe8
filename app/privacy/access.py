"""A person's data, given back: the ids that are theirs, one timeline of what they did, and all
of it as one JSON document (a data-access request).

A person is one app's userId with the anonymous ids (and merged user ids) its profile links to
it: their events, queue items, records, record versions, conflicts and batch logs are the
person's. Everything here reads through small keyset reads of the store (the events port and
the person port), so a person with a million rows costs a page, or a chunk at a time.
"""

import base64
import binascii
import heapq
from datetime import UTC, datetime
from itertools import islice

import orjson

from ..schemas.people import profile_view
from ..store.common import utcnow

# The timeline's kinds, each with the field that says when it happened.
TIMELINE = (("event", "timestamp"), ("record_edit", "updatedAt"), ("conflict", "createdAt"),
            ("batch", "startTime"))
# The document's lists after the events, each with the person port's read of it.
SECTIONS = (("queueItems", "person_queue_items"), ("records", "person_records"),
            ("recordVersions", "person_record_versions"), ("conflicts", "person_conflicts"),
            ("batches", "person_batch_logs"))
# Rows read per round trip while exporting (queue items carry payloads of up to 32 KB).
CHUNK = 500
EVENT_CHUNK = 1000
# A timeline cursor is a handful of keys: anything longer was not made here.
MAX_CURSOR = 2048
EARLIEST = datetime.min.replace(tzinfo=UTC)


class InvalidCursor(ValueError):
    """A timeline cursor this service did not make (forged, truncated or too long)."""


def person_ids(store, app_id, user_id):
    """[userId, *anonymousIds]: the ids whose rows are the person's (from the profile)."""
    profile = store.get_people(app_id, [user_id]).get(user_id)
    ids = [user_id]
    for other in (profile or {}).get("anonymousIds") or []:
        if other not in ids:
            ids.append(other)
    return ids


def _events(app_id, ids):
    return {"appId": app_id, "userIds": ids}


def _readers(store, app_id, ids):
    """{kind: read(before, limit)} of the timeline's sources."""
    def event_page(before, limit):
        try:
            return store.event_page(_events(app_id, ids), before=before, limit=limit)
        except ValueError:  # a key the store never made
            raise InvalidCursor("The cursor is not one this timeline gave.") from None

    return {
        "event": event_page,
        "record_edit": lambda before, limit: store.person_record_versions(app_id, ids, before,
                                                                          limit),
        "conflict": lambda before, limit: store.person_conflicts(app_id, ids, before, limit),
        "batch": lambda before, limit: store.person_batch_logs(app_id, ids, before, limit),
    }


def person_known(store, app_id, user_id):
    """Whether the app holds anything of the person: a profile or any row of theirs."""
    if store.get_people(app_id, [user_id]).get(user_id) is not None:
        return True
    ids = [user_id]
    if store.event_page(_events(app_id, ids), limit=1):
        return True
    return any(getattr(store, read)(app_id, ids, None, 1) for _name, read in SECTIONS)


def _encode_cursor(positions):
    text = orjson.dumps(positions)
    return base64.urlsafe_b64encode(text).decode().rstrip("=")


def _key_ok(value):
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -(2 ** 63) <= value < 2 ** 63
    if isinstance(value, str):
        return len(value) <= 512
    if isinstance(value, list):
        return len(value) <= 8 and all(v is None or isinstance(v, int | float | str) and
                                       not isinstance(v, bool) for v in value)
    return False


def _decode_cursor(cursor):
    if cursor is None:
        return {}
    if not isinstance(cursor, str) or not cursor or len(cursor) > MAX_CURSOR:
        raise InvalidCursor("The cursor is not one this timeline gave.")
    try:
        positions = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        raise InvalidCursor("The cursor is not one this timeline gave.") from None
    kinds = {kind for kind, _field in TIMELINE}
    if not (isinstance(positions, dict) and positions and set(positions) <= kinds
            and all(_key_ok(v) for v in positions.values())):
        raise InvalidCursor("The cursor is not one this timeline gave.")
    return positions


def _entry(kind, field, row):
    doc = {k: v for k, v in row.items() if k != "key"}
    return {"kind": kind, "at": doc.get(field), "doc": doc}


def person_timeline(store, app_id, user_id, before=None, limit=50):
    """One page of the person's events, record edits, conflicts and batches, newest first:
    {"entries": [{kind, at, doc}], "next": cursor or None}. Raises InvalidCursor.

    Each source is read after its own position (the cursor holds one per kind), `limit` + 1
    rows at most, and the heads merged by time: a page costs four small reads, and the pages
    hold every entry once."""
    positions = _decode_cursor(before)
    ids = person_ids(store, app_id, user_id)
    readers = _readers(store, app_id, ids)
    streams = []
    for kind, field in TIMELINE:
        rows = readers[kind](positions.get(kind), limit + 1)
        streams.append([(kind, field, row) for row in rows])
    merged = list(islice(heapq.merge(
        *streams, key=lambda e: e[2].get(e[1]) or EARLIEST, reverse=True), limit + 1))
    page = merged[:limit]
    positions = dict(positions)
    for kind, _field, row in page:
        positions[kind] = row["key"]
    return {"entries": [_entry(kind, field, row) for kind, field, row in page],
            "next": _encode_cursor(positions) if len(merged) > limit else None}


def _plain(value):
    """What orjson cannot write itself (a MongoDB ObjectId, bytes): as text."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _json(value):
    return orjson.dumps(value, default=_plain).decode()


def _profile(store, app_id, user_id):
    person = store.get_people(app_id, [user_id]).get(user_id)
    return None if person is None else profile_view(person)


def _keyset_chunks(read, app_id, ids):
    """Every row of a person-port read, a chunk at a time (keyset: never the whole list)."""
    before = None
    while True:
        rows = read(app_id, ids, before, CHUNK)
        if rows:
            yield rows
            before = rows[-1]["key"]
        if len(rows) < CHUNK:
            return


def _json_rows(rows):
    """The rows as the items of a JSON list (no brackets), without their keyset `key`, in one
    orjson call (the key is put back: the reader pages on after the last row's)."""
    keys = [row.pop("key", None) for row in rows]
    try:
        return orjson.dumps(rows, default=_plain).decode()[1:-1]
    finally:
        for row, key in zip(rows, keys, strict=True):
            row["key"] = key


def _json_list(name, chunks):
    yield f',{_json(name)}:['
    first = True
    for chunk in chunks:
        if chunk:
            text = _json_rows(chunk)
            yield text if first else "," + text
            first = False
    yield "]"


def person_document_chunks(store, settings, app_id, user_id):
    """The person's data as pieces of one JSON document: {userId, appId, exportedAt, profile,
    events, queueItems, records, recordVersions, conflicts, batches}. Streamed: it reads a
    chunk of rows at a time, so memory stays flat whatever the person holds."""
    ids = person_ids(store, app_id, user_id)
    head = {"userId": user_id, "appId": app_id, "exportedAt": utcnow(),
            "profile": _profile(store, app_id, user_id)}
    yield _json(head)[:-1]
    yield from _json_list("events", store.event_chunks(_events(app_id, ids),
                                                       chunk=EVENT_CHUNK))
    for name, read in SECTIONS:
        yield from _json_list(name, _keyset_chunks(getattr(store, read), app_id, ids))
    yield "}"
