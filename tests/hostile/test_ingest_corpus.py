"""A hostile corpus for ingest, table by table: odd times with every kind of offset, ids at
their limits, numbers that are not integers, NUL and astral characters, keys no store can hold,
nesting and sizes at and past the limits.

Refused input answers a 4xx in the error shape naming the field and stores nothing (a refused
batch item is answered `rejected`, its neighbours kept); accepted input syncs and reads back
exactly as it was sent (batch status, telemetry, /records, conflicts), on both stores. Each
table runs in one app, and every failing case is reported by name.
"""

import itertools
import json
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from app.schemas.storable import MAX_NESTING
from app.sync.engine import run_sync

from .helpers import APP, BATCH, TRACK, assert_error_shape, exact, names, stored_event

pytestmark = pytest.mark.both_stores

DROP = object()
ALLOWED_ID_CHARS = string.ascii_letters + string.digits + "_.:@-"
_serial = itertools.count(1)


def serial(prefix):
    return f"{prefix}-{next(_serial)}"


def id_of(length, salt=""):
    """An id of `length` characters using every allowed character."""
    return (salt + ALLOWED_ID_CHARS * (length // len(ALLOWED_ID_CHARS) + 1))[:length]


def changed(base, changes):
    item = dict(base)
    for key, value in changes.items():
        if value is DROP:
            item.pop(key, None)
        else:
            item[key] = value
    return item


def ev(**changes):
    """An ordinary event item, with `changes` (DROP removes a field)."""
    return changed({"itemType": "event", "eventId": serial("e"), "eventType": "hostile_case",
                    "eventData": {"k": "v"},
                    "metadata": {"clientTimestamp": "2026-11-28T10:00:00Z"}}, changes)


def when(timestamp, **changes):
    return ev(metadata={"clientTimestamp": timestamp}, **changes)


def rec(**changes):
    """An ordinary record edit (a new record), with `changes`."""
    return changed({"itemType": "note", "itemId": serial("i"), "recordId": serial("r"),
                    "baseVersion": 0, "data": {"title": "x"},
                    "clientTimestamp": "2026-11-28T10:00:00Z"}, changes)


def nested(levels, container="dict"):
    """A value with `levels` containers inside it, the depth ingest measures from the field."""
    value = {}
    for _ in range(levels):
        value = {"a": value} if container == "dict" else [value]
    return value


def deep_path(field_name, levels, container="dict"):
    step = ".a" if container == "dict" else ".0"
    return field_name + step * levels


def item_bytes(item):
    """The item's size as ingest counts it: UTF-8 bytes of its stored JSON."""
    if item.get("itemType", "event") == "event":
        stored = {k: item.get(k, {}) for k in ("eventId", "eventType", "eventData", "metadata")}
    else:
        stored = {"recordId": item["recordId"], "baseVersion": item["baseVersion"],
                  "data": item["data"], "clientTimestamp": item.get("clientTimestamp")}
    stored = {k: (v.replace("Z", "+00:00") if k == "clientTimestamp" and v else v)
              for k, v in stored.items()}
    return len(json.dumps(stored, sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False).encode())


def sized(limit, extra, fill="x", make=ev, key="eventData"):
    """An item of exactly `limit + extra` bytes, padded with `fill` characters (and ASCII)."""
    item = make(**{key: {"pad": ""}})
    room = limit + extra - item_bytes(item)
    width = len(fill.encode())
    item[key] = {"pad": fill * (room // width) + "x" * (room % width)}
    assert item_bytes(item) == limit + extra
    return item


@dataclass
class Case:
    """One input of a table: the items (or the request), and the field a refusal must name."""

    name: str
    items: list
    problem: str | None = None
    sync_status: str = "done"
    expect: dict = field(default_factory=dict)


def run_cases(cases, check):
    """Run `check` on every case; fail once, naming each case that failed and how."""
    failures = []
    for case in cases:
        try:
            check(case)
        except AssertionError as exc:
            failures.append(f"{case.name}: {exc}")
    assert not failures, f"{len(failures)} of {len(cases)} cases failed:\n" + "\n".join(failures)


# ---- items refused one by one --------------------------------------------------------------

ITEM_LIMIT = 32 * 1024
TIME = "metadata.clientTimestamp"
REFUSED_ITEMS = [
    # Times: a UTC instant inside 0001-01-01..9999-12-31, whatever the offset.
    Case("time before year 1 in UTC (+14:00)", [when("0001-01-01T00:00:00+14:00")], TIME),
    Case("time before year 1 by a microsecond", [when("0001-01-01T13:59:59.999999+14:00")], TIME),
    Case("time after 9999 in UTC (-12:00)", [when("9999-12-31T23:59:59-12:00")], TIME),
    Case("time at 10000-01-01 in UTC", [when("9999-12-31T12:00:00-12:00")], TIME),
    Case("time after 9999 by a seconds offset", [when("9999-12-31T23:59:59-00:00:01")], TIME),
    Case("time after 9999 by a minute offset (basic form)", [when("9999-12-31T23:59:00-0001")],
         TIME),
    Case("time without an offset", [when("2026-11-28T10:00:00")], TIME),
    Case("time in words", [when("yesterday")], TIME),
    Case("time as epoch seconds", [when(1764324000)], TIME),
    Case("time with a trailing newline", [when("2026-11-28T10:00:00Z\n")], TIME),
    Case("time on 30 February", [when("2026-02-30T10:00:00Z")], TIME),
    Case("time with a 24-hour offset", [when("2026-11-28T10:00:00+24:00")], TIME),
    Case("time empty", [when("")], TIME),
    Case("time as a list", [when(["2026-11-28T10:00:00Z"])], TIME),
    Case("record time before year 1", [rec(clientTimestamp="0001-01-01T00:00:00+00:01")],
         "clientTimestamp"),
    Case("record time after 9999", [rec(clientTimestamp="9999-12-31T23:59:59.999999-00:00:01")],
         "clientTimestamp"),
    Case("record time without an offset", [rec(clientTimestamp="2026-11-28T10:00:00")],
         "clientTimestamp"),
    Case("record time as true", [rec(clientTimestamp=True)], "clientTimestamp"),
    # Ids: the whole value matches the pattern.
    Case("eventId of 129 characters", [ev(eventId=id_of(129))], "eventId"),
    Case("eventId with a trailing newline", [ev(eventId="e1\n")], "eventId"),
    Case("eventId with a trailing CR", [ev(eventId="e1\r")], "eventId"),
    Case("eventId with a NUL", [ev(eventId="e1\x00")], "eventId"),
    Case("eventId with a Cyrillic lookalike", [ev(eventId="\u04351")], "eventId"),
    Case("eventId in fullwidth letters", [ev(eventId="\uff45\uff11")], "eventId"),
    Case("eventId with a zero-width space", [ev(eventId="e1\u200b")], "eventId"),
    Case("eventId '.' (a dot segment)", [ev(eventId=".")], "eventId"),
    Case("eventId '..' (a dot segment)", [ev(eventId="..")], "eventId"),
    Case("eventId empty", [ev(eventId="")], "eventId"),
    Case("eventId with a leading space", [ev(eventId=" e1")], "eventId"),
    Case("eventId a number", [ev(eventId=12345)], "eventId"),
    Case("record itemId with a trailing newline", [rec(itemId="i1\n")], "itemId"),
    Case("recordId of 129 characters", [rec(recordId=id_of(129))], "recordId"),
    Case("recordId with a trailing newline", [rec(recordId="r1\n")], "recordId"),
    Case("clientId with a trailing newline", [ev(clientId="c1\n", seq=1)], "clientId"),
    Case("record type with a trailing newline", [rec(itemType="note\n")], "itemType"),
    Case("record type 'event' with a trailing newline", [rec(itemType="event\n")], "itemType"),
    Case("record type of 65 characters", [rec(itemType="n" * 65)], "itemType"),
    Case("record type starting with a digit", [rec(itemType="1note")], "itemType"),
    # Integers: 1.5, "1" and true are not integers; the bounds hold.
    Case("seq 1.5", [ev(clientId="c1", seq=1.5)], "seq"),
    Case("seq '1'", [ev(clientId="c1", seq="1")], "seq"),
    Case("seq true", [ev(clientId="c1", seq=True)], "seq"),
    Case("seq 2**63", [ev(clientId="c1", seq=2**63)], "seq"),
    Case("seq 2**53 + 1", [ev(clientId="c1", seq=2**53 + 1)], "seq"),
    Case("seq -1", [ev(clientId="c1", seq=-1)], "seq"),
    Case("seq 1e300", [ev(clientId="c1", seq=1e300)], "seq"),
    Case("priority 101", [ev(priority=101)], "priority"),
    Case("priority -101", [ev(priority=-101)], "priority"),
    Case("priority 0.5", [ev(priority=0.5)], "priority"),
    Case("priority '1'", [ev(priority="1")], "priority"),
    Case("priority false", [ev(priority=False)], "priority"),
    Case("baseVersion 1.5", [rec(baseVersion=1.5)], "baseVersion"),
    Case("baseVersion '1'", [rec(baseVersion="1")], "baseVersion"),
    Case("baseVersion true", [rec(baseVersion=True)], "baseVersion"),
    Case("baseVersion -1", [rec(baseVersion=-1)], "baseVersion"),
    Case("baseVersion 2**53 + 1", [rec(baseVersion=2**53 + 1)], "baseVersion"),
    Case("baseVersion null", [rec(baseVersion=None)], "baseVersion"),
    Case("record seq 2.5", [rec(clientId="c2", seq=2.5)], "seq"),
    Case("rating 4.5", [ev(eventType="mentor_feedback_received", eventData={"rating": 4.5})],
         "eventData.rating"),
    Case("rating '4'", [ev(eventType="mentor_feedback_received", eventData={"rating": "4"})],
         "eventData.rating"),
    Case("score '85'", [ev(eventType="interview_completed",
                           eventData={"score": "85", "duration": 1})], "eventData.score"),
    Case("score true", [ev(eventType="interview_completed",
                           eventData={"score": True, "duration": 1})], "eventData.score"),
    Case("answered 2.5", [ev(eventType="assessment_submitted",
                             eventData={"score": 1, "answered": 2.5})], "eventData.answered"),
    Case("correct 'yes'", [ev(eventType="practice_question_answered",
                              eventData={"questionId": "q", "correct": "yes"})],
         "eventData.correct"),
    Case("an integer outside 64 bits in eventData", [ev(eventData={"n": 2**64})], "_item"),
    Case("an integer outside 64 bits in record data", [rec(data={"n": -(2**63) - 1})], "_item"),
    # NUL: refused in names and keys; kept in values (see the accepted table).
    Case("eventType with a NUL", [ev(eventType="nul\x00type")], "eventType"),
    Case("eventData key with a NUL", [ev(eventData={"a\x00b": 1})], "eventData.a\\u0000b"),
    Case("NUL key inside a list", [ev(eventData={"l": [{"k\x00": 1}]})], "eventData.l.0.k\\u0000"),
    Case("metadata key with a NUL", [ev(metadata={"m\x00": 1})], "metadata.m\\u0000"),
    Case("record data key with a NUL", [rec(data={"d\x00": 1})], "data.d\\u0000"),
    Case("unknown item field with a NUL", [ev(**{"x\x00": 1})], "x\\u0000"),
    # Keys MongoDB cannot hold.
    Case("eventData key $where", [ev(eventData={"$where": 1})], "eventData.$where"),
    Case("eventData dotted key", [ev(eventData={"a.b": 1})], "eventData.a.b"),
    Case("metadata key $x", [ev(metadata={"$x": 1})], "metadata.$x"),
    Case("record data nested dotted key", [rec(data={"a": {"b.c": 1}})], "data.a.b.c"),
    Case("record data key '$'", [rec(data={"$": 1})], "data.$"),
    # Nesting past the limit.
    Case("eventData nested past the limit", [ev(eventData=nested(MAX_NESTING + 1))],
         deep_path("eventData", MAX_NESTING + 1)),
    Case("eventData lists nested past the limit",
         [ev(eventData={"a": nested(MAX_NESTING, "list")})],
         deep_path("eventData.a", MAX_NESTING, "list")),
    Case("metadata nested past the limit", [ev(metadata=nested(MAX_NESTING + 1))],
         deep_path("metadata", MAX_NESTING + 1)),
    Case("record data nested past the limit", [rec(data=nested(MAX_NESTING + 1))],
         deep_path("data", MAX_NESTING + 1)),
    # Sizes past the limit (in UTF-8 bytes, so astral characters count four).
    Case("event one byte over the item limit", [sized(ITEM_LIMIT, 1)], "_item"),
    Case("event one byte over the limit in astral characters", [sized(ITEM_LIMIT, 1, "\U0001F600")],
         "_item"),
    Case("record one byte over the item limit", [sized(ITEM_LIMIT, 1, make=rec, key="data")],
         "_item"),
    # Other bounds.
    Case("eventType of 101 characters", [ev(eventType="t" * 101)], "eventType"),
    Case("eventType empty", [ev(eventType="")], "eventType"),
    Case("userId of 257 characters", [ev(userId="u" * 257)], "userId"),
    Case("conflictResolution unknown", [rec(conflictResolution="newest")], "conflictResolution"),
    Case("eventData a list", [ev(eventData=[1])], "eventData"),
]


def queue_counts(store):
    return store.queue_counts(app_id=APP)


def test_refused_items_are_answered_per_item_and_the_rest_is_kept(client, auth, store):
    def check(case):
        before = sum(queue_counts(store).values())
        good = ev()
        response = client.post(BATCH, json={"batchId": serial("b"), "userId": "u-1",
                                            "items": [*case.items, good]}, headers=auth)
        assert response.status_code == 202, response.get_data(as_text=True)
        answer = response.get_json()
        rejected, kept = answer["results"][0], answer["results"][-1]
        assert rejected["status"] == "rejected", rejected
        assert case.problem in names(rejected["fields"]), rejected["fields"]
        assert kept["status"] == "accepted"
        # Only the good item was stored, and the batch reads back with the same answer.
        assert sum(queue_counts(store).values()) == before + 1
        status = client.get(answer["statusUrl"], headers=auth)
        assert status.status_code == 200, status.get_data(as_text=True)
        assert [r["status"] for r in status.get_json()["results"]] == ["rejected", "accepted"]

    assert len(REFUSED_ITEMS) >= 70
    run_cases(REFUSED_ITEMS, check)


def as_track(item):
    body = {k: v for k, v in item.items() if k != "itemType"}
    body.setdefault("userId", "u-1")
    return body


def test_refused_events_answer_400_on_track_and_store_nothing(client, auth, store):
    def check(case):
        before = queue_counts(store)
        response = client.post(TRACK, json=as_track(case.items[0]), headers=auth)
        assert_error_shape(response, 400, case.problem)
        assert queue_counts(store) == before

    run_cases([c for c in REFUSED_ITEMS if c.items[0].get("itemType") == "event"], check)


# ---- whole requests refused ------------------------------------------------------------------

def batch_of(items=None, **envelope):
    return {"batchId": serial("b"), "userId": "u-1", "items": items or [ev()], **envelope}


REFUSED_REQUESTS = [
    Case("sentAt after 9999 in UTC", [BATCH, batch_of(sentAt="9999-12-31T23:59:59-12:00")],
         "sentAt", expect={"status": 400}),
    Case("sentAt before year 1 in UTC", [BATCH, batch_of(sentAt="0001-01-01T00:00:00+14:00")],
         "sentAt", expect={"status": 400}),
    Case("sentAt without an offset", [BATCH, batch_of(sentAt="2026-11-28T10:00:00")], "sentAt",
         expect={"status": 400}),
    Case("sentAt with a trailing newline", [BATCH, batch_of(sentAt="2026-11-28T10:00:00Z\n")],
         "sentAt", expect={"status": 400}),
    Case("track sentAt after 9999", [TRACK, as_track(ev(sentAt="9999-12-31T23:59:59-12:00"))],
         "sentAt", expect={"status": 400}),
    Case("track sentAt before year 1", [TRACK, as_track(ev(sentAt="0001-01-01T00:00:00+14:00"))],
         "sentAt", expect={"status": 400}),
    Case("batchId with a trailing newline", [BATCH, dict(batch_of(), batchId="b1\n")], "batchId",
         expect={"status": 400}),
    Case("batchId of 129 characters", [BATCH, dict(batch_of(), batchId=id_of(129))], "batchId",
         expect={"status": 400}),
    Case("batchId '..'", [BATCH, dict(batch_of(), batchId="..")], "batchId",
         expect={"status": 400}),
    Case("batch clientId with a NUL", [BATCH, batch_of(clientId="c\x00")], "clientId",
         expect={"status": 400}),
    Case("batch userId of 257 characters", [BATCH, dict(batch_of(), userId="u" * 257)], "userId",
         expect={"status": 400}),
    Case("every item rejected", [BATCH, batch_of([ev(seq=1.5, clientId="c")])], "items.0.seq",
         expect={"status": 400}),
    Case("track eventId with a trailing newline", [TRACK, as_track(ev(eventId="e\n"))],
         "eventId", expect={"status": 400}),
    Case("track priority true", [TRACK, as_track(ev(priority=True))], "priority",
         expect={"status": 400}),
    Case("track without userId", [TRACK, {"eventType": "x"}], "userId", expect={"status": 400}),
    Case("more items than MAX_BATCH_ITEMS", [BATCH, None], "items",
         expect={"status": 413, "items": "over"}),
    Case("a body over MAX_CONTENT_LENGTH", [BATCH, None], None,
         expect={"status": 413, "body": "over"}),
    Case("a number too large for a double", [BATCH, '{"batchId": "b", "items": [1e400]}'], None,
         expect={"status": 400}),
    Case("NaN", [BATCH, '{"batchId": "b", "items": [NaN]}'], None, expect={"status": 400}),
    Case("a lone surrogate", [BATCH, '{"batchId": "b\\ud800", "items": []}'], None,
         expect={"status": 400}),
]


def test_refused_requests_answer_4xx_and_store_nothing(app, client, auth, store):
    def check(case):
        before = queue_counts(store)
        path, body = case.items
        if case.expect.get("items") == "over":
            body = batch_of([ev() for _ in range(app.config["MAX_BATCH_ITEMS"] + 1)])
        if case.expect.get("body") == "over":
            body = batch_of([ev(eventData={"pad": "x" * 1000})
                             for _ in range(app.config["MAX_CONTENT_LENGTH"] // 1000)])
        if isinstance(body, str):
            response = client.post(path, data=body, content_type="application/json",
                                   headers=auth)
        else:
            response = client.post(path, json=body, headers=auth)
        assert_error_shape(response, case.expect["status"], case.problem)
        assert queue_counts(store) == before
        batch_id = body.get("batchId") if isinstance(body, dict) else None
        if isinstance(batch_id, str):
            assert store.get_batch_log(APP, batch_id) is None

    run_cases(REFUSED_REQUESTS, check)


@pytest.mark.parametrize("argument, value, status", [
    ("from", "0001-01-01T00:00:00+14:00", 400),
    ("to", "9999-12-31T23:59:59-12:00", 400),
    ("from", "0001-01-01T00:00:00Z", 200),
    ("to", "9999-12-31T23:59:59.999999Z", 200),
    ("from", "2026-11-28T10:00:00", 200),  # no offset: UTC
])
def test_metrics_time_filters_are_checked_like_every_time(client, auth, argument, value, status):
    response = client.get("/api/telemetry/metrics", query_string={argument: value}, headers=auth)
    if status == 200:
        assert response.status_code == 200, response.get_data(as_text=True)
    else:
        assert_error_shape(response, status, argument)


# ---- accepted, synced and read back ---------------------------------------------------------

ASTRAL = "\U0001F600\U00010348"
ACCEPTED = [
    Case("time in year 1 (UTC)", [when("0001-01-01T00:00:00Z")],
         expect={"timestamp": "0001-01-01T00:00:00+00:00"}),
    Case("time in year 1 at -14:00", [when("0001-01-01T00:00:00-14:00")],
         expect={"timestamp": "0001-01-01T14:00:00+00:00"}),
    Case("time at the calendar's last microsecond (clamped: future)",
         [when("9999-12-31T23:59:59.999999Z")], expect={"clamped": True}),
    Case("time in 9999 at +14:00 (clamped: future)", [when("9999-12-31T23:59:59+14:00")],
         expect={"clamped": True}),
    Case("time at +05:45", [when("2026-11-28T10:00:00+05:45")],
         expect={"timestamp": "2026-11-28T04:15:00+00:00"}),
    Case("time at -03:30", [when("2026-11-28T10:00:00-03:30")],
         expect={"timestamp": "2026-11-28T13:30:00+00:00"}),
    Case("time at -00:00", [when("2026-11-28T10:00:00.123456-00:00")],
         expect={"timestamp": "2026-11-28T10:00:00.123000+00:00"}),
    Case("time with a basic offset", [when("2026-11-28T10:00:00+0530")],
         expect={"timestamp": "2026-11-28T04:30:00+00:00"}),
    Case("time with a seconds offset", [when("2026-11-28T10:00:00+05:30:15")],
         expect={"timestamp": "2026-11-28T04:29:45+00:00"}),
    Case("time in basic form", [when("20261128T100000Z")],
         expect={"timestamp": "2026-11-28T10:00:00+00:00"}),
    Case("record time in year 1", [rec(clientTimestamp="0001-01-01T00:00:00Z")]),
    Case("record time at the calendar's last microsecond",
         [rec(clientTimestamp="9999-12-31T23:59:59.999999+00:00")]),
    Case("ids of 128 characters, every allowed one",
         [ev(eventId=id_of(128, "a"), clientId=id_of(128, "b"), seq=0),
          rec(itemId=id_of(128, "c"), recordId=id_of(128, "d"), itemType="N" * 64)]),
    Case("ids of three dots and of one character",
         [ev(eventId="..."), rec(itemId="x", recordId="y")]),
    Case("1.0 taken as the integer 1",
         [ev(clientId=serial("c"), seq=1.0, priority=1.0), rec(baseVersion=0.0, priority=-1.0)]),
    Case("integers at their bounds",
         [ev(clientId=serial("c"), seq=2**53, priority=100), ev(priority=-100)]),
    Case("eventData kept as sent: 85 stays 85",
         [ev(eventType="interview_completed", eventData={"score": 85, "duration": 1800})]),
    Case("eventData kept as sent: a rating of 4.0 stays 4.0",
         [ev(eventType="mentor_feedback_received", eventData={"rating": 4.0, "x": -0.0})]),
    Case("numbers at the 64-bit bounds in data",
         [ev(eventData={"max": 2**63 - 1, "min": -(2**63), "big": 2**53 + 1, "f": 1.5e308})]),
    Case("NUL and astral characters in eventData values and keys",
         [ev(eventData={"s": f"a\x00b{ASTRAL}", "l": ["\x00", ASTRAL], ASTRAL: {"\x01": "\x00"}})]),
    Case("NUL and astral characters in metadata values",
         [ev(metadata={"clientTimestamp": "2026-11-28T10:00:00Z", "m": f"\x00{ASTRAL}"})]),
    Case("NUL and astral characters in userId", [ev(userId=f"u\x00{ASTRAL}")]),
    Case("astral characters in eventType", [ev(eventType=f"type{ASTRAL}")]),
    Case("NUL and astral characters in record data",
         [rec(data={"t": f"\x00{ASTRAL}\x00", ASTRAL: [None, True, "\x00"]})]),
    Case("an empty key", [ev(eventData={"": 1}), rec(data={"": {"": ""}})]),
    Case("nesting at the limit",
         [ev(eventData=nested(MAX_NESTING), metadata=nested(MAX_NESTING)),
          ev(eventData={"a": nested(MAX_NESTING - 1, "list")}), rec(data=nested(MAX_NESTING))]),
    Case("an event of exactly the item limit", [sized(ITEM_LIMIT, 0)]),
    Case("an event of exactly the item limit in astral characters",
         [sized(ITEM_LIMIT, 0, "\U0001F600")]),
    Case("a record of exactly the item limit", [sized(ITEM_LIMIT, 0, make=rec, key="data")]),
    Case("a baseVersion ahead of the server (it can never apply)",
         [rec(baseVersion=2**53)], sync_status="dead"),
]


def check_read_back(client, auth, store, case, item, result):
    """An accepted item's sync state, and what it became, exactly as it was sent."""
    assert result["syncStatus"] == case.sync_status, result
    if item.get("itemType", "event") == "event":
        event = stored_event(store, APP, item)
        assert event["userId"] == item.get("userId", "u-1")
        expected = case.expect.get("timestamp")
        if expected is not None:
            # SQLite computes the stored instant through julianday(): good to the millisecond.
            assert abs(event["timestamp"] - datetime.fromisoformat(expected)) \
                < timedelta(milliseconds=1), event["timestamp"]
            assert event["metadata"]["serverTimestamp"] == expected
        if case.expect.get("clamped"):
            assert event["metadata"]["clamped"] is True
            assert event["timestamp"] - datetime.now(UTC) < timedelta(minutes=5)
        return
    if case.sync_status != "done":
        return
    path = f"/api/telemetry/records/{item['itemType']}/{item['recordId']}"
    record = client.get(path, headers=auth)
    assert record.status_code == 200, record.get_data(as_text=True)
    assert exact(record.get_json()["data"]) == exact(item["data"])


def test_accepted_items_sync_and_read_back_exactly(app, client, auth, store):
    sent = []
    for case in ACCEPTED:
        body = {"batchId": serial("b"), "userId": "u-1", "items": case.items}
        response = client.post(BATCH, json=body, headers=auth)
        assert response.status_code == 202, (case.name, response.get_data(as_text=True))
        assert response.get_json()["accepted"] == len(case.items), (case.name, response.json)
        again = client.post(BATCH, json=body, headers=auth)
        assert again.get_json() == response.get_json(), case.name
        sent.append((case, response.get_json()))
    stored = store.queue_counts(app_id=APP)
    run_sync(store, app.config)

    def check(case):
        answer = next(answer for c, answer in sent if c is case)
        status = client.get(answer["statusUrl"], headers=auth)
        assert status.status_code == 200, status.get_data(as_text=True)
        for item, result in zip(case.items, status.get_json()["results"], strict=True):
            check_read_back(client, auth, store, case, item, result)
            # Whole numbers are stored as integers (1.0 as 1).
            queued = store.get_queue_item(APP, result["itemId"])
            numbers = {"seq": queued["seq"], "priority": queued["priority"],
                       "baseVersion": queued["itemData"].get("baseVersion")}
            for key, value in numbers.items():
                if key in item:
                    assert value == item[key] and type(value) is int, (key, value)

    run_cases(ACCEPTED, check)
    assert sum(stored.values()) == sum(len(c.items) for c in ACCEPTED)
    metrics = client.get("/api/telemetry/metrics", headers=auth)
    assert metrics.status_code == 200
    assert "0001-01-01" in {day["day"] for day in metrics.get_json()["byDay"]}


@pytest.mark.parametrize("sent_at, client_time, clamped", [
    ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z", False),
    ("9999-12-31T23:59:59.999999Z", "0001-01-01T00:00:00Z", True),
    ("0001-01-01T00:00:00+00:00", "9999-12-31T23:59:59.999999Z", True),
    ("0001-01-01T14:00:00+14:00", "9999-12-31T00:00:00-12:00", True),
])
def test_extreme_sent_at_is_corrected_or_clamped_and_the_batch_stays_readable(
        app, client, auth, store, sent_at, client_time, clamped):
    item = when(client_time)
    body = batch_of([item, rec(clientTimestamp=client_time)], sentAt=sent_at)
    response = client.post(BATCH, json=body, headers=auth)
    assert response.status_code == 202
    assert client.post(BATCH, json=body, headers=auth).get_json() == response.get_json()
    assert client.get(response.get_json()["statusUrl"], headers=auth).status_code == 200
    [log] = run_sync(store, app.config)
    assert log["successCount"] == 2
    event = stored_event(store, APP, item)
    assert event["metadata"]["clamped"] is clamped
    # Whatever the clock said, the time stored is a readable instant near now.
    assert abs(event["timestamp"] - datetime.now(UTC)) < timedelta(minutes=5)
    status = client.get(response.get_json()["statusUrl"], headers=auth)
    assert [r["syncStatus"] for r in status.get_json()["results"]] == ["done", "done"]


def test_hostile_payloads_in_conflicts_read_back_and_resolve(app, client, auth, store):
    event_id = serial("e")
    first = ev(eventId=event_id, eventData={"v": f"\x00{ASTRAL}", "n": 85})
    second = ev(eventId=event_id, eventData={"v": f"{ASTRAL}\x00", "n": 85.0})
    record_id = serial("r")
    base = rec(recordId=record_id, data={"t": "\x00"})
    stale = [rec(recordId=record_id, baseVersion=0, data={"t": f"{ASTRAL}\x00"},
                 conflictResolution="manual")]
    for items in ([first, base], [second, *stale]):
        assert client.post(BATCH, json=batch_of(items), headers=auth).status_code == 202
        run_sync(store, app.config)
    page = client.get("/api/telemetry/conflicts", headers=auth)
    assert page.status_code == 200
    conflicts = {c["kind"]: c for c in page.get_json()["conflicts"]}
    assert set(conflicts) == {"event", "record"}
    event_conflict = client.get(f"/api/telemetry/conflicts/{conflicts['event']['id']}",
                                headers=auth).get_json()
    assert exact(event_conflict["server"]["eventData"]) == exact(first["eventData"])
    assert exact(event_conflict["client"]["eventData"]) == exact(second["eventData"])
    record_conflict = client.get(f"/api/telemetry/conflicts/{conflicts['record']['id']}",
                                 headers=auth).get_json()
    assert exact(record_conflict["client"]) == exact(stale[0]["data"])
    resolve = f"/api/telemetry/conflicts/{conflicts['record']['id']}/resolve"
    refused = client.post(resolve, json={"resolution": "merged", "data": {"k\x00": 1}},
                          headers=auth)
    assert_error_shape(refused, 400, "data.k\\u0000")
    answer = client.post(resolve, json={"resolution": "client"}, headers=auth)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    record = client.get(f"/api/telemetry/records/note/{record_id}", headers=auth).get_json()
    assert exact(record["data"]) == exact(stale[0]["data"]) and record["version"] == 2
