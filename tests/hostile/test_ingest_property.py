"""A property test of ingest over everything the validators accept.

The strategies are read off the validators themselves: each field of the envelope and item
schemas is drawn from its class and its validators (Range and Length bounds and one past them,
OneOf and Equal choices, Regexp and id patterns, which also yield the strings Python's `$`
lets through), seed event data from the event type schemas, data nested around MAX_NESTING and
sized around MAX_ITEM_BYTES, times at every offset across the whole calendar, text over all of
Unicode (NUL and astral characters included). An example is an ordinary batch of one to four
items (events of every type, record edits of every strategy) with one to four fields, of the
envelope or of items, drawn that way; it goes beside an ordinary batch of a second app, into a
store emptied for it.

Each example is ingested, read back, resent, synced and read back again, through the API and
the console. Never an exception, never a 5xx; what is acknowledged is stored and read back as
sent, its ids match their patterns in full, its numbers are integers where the schema says so
and its times are instants inside the calendar; the second app's items are all applied. The
marshmallow schemas and the fast path give the same answers on every generated item.
"""

import itertools
import re
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from marshmallow import ValidationError, fields, validate

from app.accounts.keys import create_key
from app.schemas.events import EVENT_DATA_SCHEMAS
from app.schemas.fastload import FastLoader
from app.schemas.storable import MAX_NESTING
from app.schemas.telemetry import (
    BatchSchema,
    EventItemSchema,
    MetadataSchema,
    RecordItemSchema,
)
from app.sync.engine import run_sync

from .helpers import BATCH, assert_error_shape, exact, stored_event

pytestmark = pytest.mark.both_stores

EVENT_ITEM, RECORD_ITEM, ENVELOPE = EventItemSchema(), RecordItemSchema(), BatchSchema()
# Every code point JSON can carry: NUL and astral characters included, lone surrogates not.
UNICODE = st.characters(codec="utf-8")
INT64 = (-(2**63), 2**63 - 1)
_examples = itertools.count(1)
APP, OTHER_APP = "hostile", "other"


# ---- strategies read off the validators ------------------------------------------------------

def validators(field, kind):
    return [v for v in field.validators if isinstance(v, kind)]


def id_pattern(field):
    """The pattern a field's values must match: an id field's own, or its Regexp validator's."""
    pattern = field.metadata.get("pattern")
    if pattern is None and validators(field, validate.Regexp):
        pattern = validators(field, validate.Regexp)[0].regex.pattern
    return pattern


def pattern_values(pattern):
    """What re.match takes for the pattern (a final newline included, as Python's `$` allows),
    and strings of its character class at and one past its longest length."""
    found = [st.from_regex(pattern)]
    classes = re.findall(r"(\[[^\]]+\])\{(\d+),(\d+)\}", pattern)
    if classes:
        char_class, _low, high = classes[-1]
        chars = "".join(c for c in map(chr, range(32, 127)) if re.fullmatch(char_class, c))
        found.append(st.text(chars, min_size=int(high), max_size=int(high) + 1))
    return st.one_of(found)


def number_values(field):
    """Whole numbers within the field's Range, its bounds and one past them; the same as
    floats, halves and text; booleans, null and integers past 64 bits."""
    ranges = validators(field, validate.Range)
    low = ranges[0].min if ranges and ranges[0].min is not None else INT64[0]
    high = ranges[0].max if ranges and ranges[0].max is not None else INT64[1]
    whole = st.one_of(st.integers(low, high), st.sampled_from([low, high, low - 1, high + 1]))
    odd = st.one_of(whole.map(float), whole.map(lambda n: n + 0.5), whole.map(str),
                    st.booleans(), st.none(), st.sampled_from([2**63, 2**64, -(2**63) - 1]))
    if isinstance(field, fields.Float):
        odd = st.one_of(odd, st.floats(float(low), float(high), allow_nan=False))
    return st.one_of(whole, odd)


def text_values(field):
    """Text over all of Unicode within the field's Length, at its bounds and one past."""
    lengths = validators(field, validate.Length)
    low = max([v.min or 0 for v in lengths], default=0)
    high = min([v.max for v in lengths if v.max is not None], default=40)
    some = st.text(UNICODE, min_size=low, max_size=min(high, 24))
    return st.one_of(st.builds("{}\x00{}".format, some, some),
                     st.sampled_from(["", "\x00", "a\n", "\U0001F600", "\U0001F600\x00"]),
                     st.text(UNICODE, min_size=high, max_size=high + 1), some)


# Strategies list their extremes first: Hypothesis draws the first alternative most often.
OFFSETS = st.one_of(
    st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m))),
    st.integers(-86399, 86399).map(lambda s: timezone(timedelta(seconds=s))),
    st.just(UTC))
# Local times near the calendar's ends, where an offset takes them out of it, and anywhere.
MOMENTS = st.one_of(st.sampled_from([datetime.min, datetime.max]),
                    st.datetimes(max_value=datetime.min + timedelta(days=1)),
                    st.datetimes(min_value=datetime.max - timedelta(days=1)), st.datetimes())


def iso_text(moment, offset, style):
    """An ISO 8601 text of a local time at an offset: extended, with Z for UTC, or basic."""
    text = moment.replace(tzinfo=offset).isoformat()
    if style == "Z":
        return text.replace("+00:00", "Z")
    if style == "basic" and moment.year >= 1000:
        date_time, sign, zone = re.match(r"(.*?)([+-])(\d\d:\d\d.*)$", text).groups()
        return date_time.replace("-", "").replace(":", "") + sign + zone.replace(":", "")
    return text


TIMES = st.one_of(
    *(st.builds(iso_text, MOMENTS, OFFSETS, st.just(style))
      for style in ("extended", "Z", "basic")),
    st.sampled_from(["yesterday", "2026-11-28T10:00:00", "2026-11-28T10:00:00Z\n", "", 0]))
KEYS = st.one_of(st.text(UNICODE, max_size=6),
                 st.sampled_from(["$where", "a.b", "k\x00", "", "\U0001F600", "score"]))
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(*INT64),
                    st.sampled_from([2**63, -(2**63) - 1, 2**53 + 1, 85, 85.0, -0.0]),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(UNICODE, max_size=8))
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(KEYS, inner, max_size=3), max_leaves=8)


def nested(levels):
    value = {}
    for _ in range(levels):
        value = {"n": value}
    return value


def data_values(max_item_bytes):
    """JSON objects: free-form, nested around MAX_NESTING, sized around the item limit."""
    return st.one_of(
        st.dictionaries(KEYS, JSON, max_size=4),
        st.integers(MAX_NESTING - 1, MAX_NESTING + 1).map(nested),
        st.integers(max_item_bytes - 400, max_item_bytes + 50).map(lambda n: {"pad": "x" * n}),
        JSON)


_field_values = {}


def field_values(field, max_item_bytes):
    """Values for one schema field, derived from its class and validators."""
    key = (id(field), max_item_bytes)
    if key not in _field_values:
        _field_values[key] = derive_field_values(field, max_item_bytes)
    return _field_values[key]


def derive_field_values(field, max_item_bytes):
    for_choices = validators(field, validate.OneOf)
    if for_choices:
        choices = list(for_choices[0].choices)
        return st.one_of(st.sampled_from(choices), st.sampled_from(choices).map(lambda c: c + "\n"),
                         text_values(field))
    if validators(field, validate.Equal):
        same = validators(field, validate.Equal)[0].comparable
        return st.sampled_from([same, f"{same}\n", same.upper()])
    if id_pattern(field) is not None:
        return st.one_of(pattern_values(id_pattern(field)), text_values(field))
    if isinstance(field, fields.Number):
        return number_values(field)
    if isinstance(field, fields.DateTime):
        return TIMES
    if isinstance(field, fields.Boolean):
        return st.one_of(st.booleans(), st.sampled_from(["yes", 1, "true", None]))
    if isinstance(field, fields.Dict):
        return data_values(max_item_bytes)
    if isinstance(field, fields.String):
        return text_values(field)
    return JSON


def accepted_by(field):
    """Whether the field's own validation takes a value."""

    def check(value):
        try:
            field.deserialize(value)
        except ValidationError:
            return False
        return True

    return check


SAFE_KEYS = st.text(UNICODE, max_size=6).filter(
    lambda key: not key.startswith("$") and "." not in key and "\x00" not in key)
ORDINARY_DATA = st.dictionaries(SAFE_KEYS, st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(*INT64), st.text(UNICODE, max_size=8),
              st.floats(allow_nan=False, allow_infinity=False)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(SAFE_KEYS, inner, max_size=3),
    max_leaves=6), max_size=3)
CLIENT_TIME = MetadataSchema().fields["clientTimestamp"]
UNKNOWN = "<a field no schema knows>"


def ordinary_event_data(schema, max_item_bytes):
    """eventData of a seed type that its schema takes: each required field drawn from its
    validators and kept when they accept it."""
    return st.fixed_dictionaries(
        {name: field_values(field, max_item_bytes).filter(accepted_by(field))
         for name, field in schema.fields.items() if field.required},
        optional={"extra": ORDINARY_DATA})


@st.composite
def ordinary_items(draw, max_item_bytes):
    """An event or a record edit the validators take; ids from small pools, so that events
    repeat and edits of one record meet (duplicates, conflicts, every strategy)."""
    if draw(st.booleans()):
        strategies = validators(RECORD_ITEM.fields["conflictResolution"], validate.OneOf)
        return {"itemType": "note", "itemId": draw(st.sampled_from(["i1", "i2", "i3"])),
                "recordId": draw(st.sampled_from(["r1", "r2"])),
                "baseVersion": draw(st.integers(0, 2)), "data": draw(ORDINARY_DATA),
                "clientTimestamp": "2026-11-28T10:00:00Z",
                "conflictResolution": draw(st.sampled_from(strategies[0].choices))}
    event_type = draw(st.sampled_from([*EVENT_DATA_SCHEMAS, "custom"]))
    data = (draw(ordinary_event_data(EVENT_DATA_SCHEMAS[event_type], max_item_bytes))
            if event_type in EVENT_DATA_SCHEMAS else draw(ORDINARY_DATA))
    return {"itemType": "event", "eventId": draw(st.sampled_from(["e1", "e2", "e3"])),
            "eventType": event_type, "eventData": data,
            "metadata": {"clientTimestamp": "2026-11-28T10:00:00Z"}}


# In the order of SPEC §10's invariants.
KINDS = ("time", "id", "number", "text", "data", "choice", "unknown")


def kind_of(field):
    """The kind of rule a field is held to; mutations pick a kind first, so that each kind is
    tried about as often however many fields share it."""
    if field is None:
        return "unknown"
    if id_pattern(field) is not None:
        return "id"
    if validators(field, validate.OneOf | validate.Equal) or isinstance(field, fields.Boolean):
        return "choice"
    for kind, cls in (("number", fields.Number), ("time", fields.DateTime),
                      ("data", fields.Dict), ("text", fields.String)):
        if isinstance(field, cls):
            return kind
    return "unknown"


def mutation_targets(body):
    """(item index or None for the envelope, part, name, field) of everything a mutation may
    replace: each envelope field, each field of an item's schema, an event's
    metadata.clientTimestamp and the fields of its seed eventData schema, an unknown field."""
    targets = []
    for index, item in enumerate(body["items"]):
        schema = EVENT_ITEM if item.get("itemType", "event") == "event" else RECORD_ITEM
        targets += [(index, "", name, field) for name, field in schema.fields.items()]
        targets.append((index, "", UNKNOWN, None))
        if schema is EVENT_ITEM:
            targets.append((index, "metadata", "clientTimestamp", CLIENT_TIME))
            seed = EVENT_DATA_SCHEMAS.get(item.get("eventType"))
            if seed is not None:
                targets += [(index, "eventData", name, field)
                            for name, field in seed.fields.items()]
    return targets + [(None, "", name, ENVELOPE.fields[name])
                      for name in ("sentAt", "batchId", "clientId", "userId")]


@st.composite
def batches(draw, max_item_bytes):
    """An ordinary batch of one to four items with one to four of its fields (envelope or
    items) replaced by values drawn from their validators."""
    body = {"batchId": draw(st.from_regex(id_pattern(ENVELOPE.fields["batchId"]),
                                          fullmatch=True)),
            "userId": "u-1",
            "items": draw(st.lists(ordinary_items(max_item_bytes), min_size=1, max_size=4))}
    for _ in range(draw(st.integers(1, 4))):
        targets = mutation_targets(body)
        kinds = {kind_of(t[3]) for t in targets}
        # The head of a permutation: sampled_from leans hard on its first choices.
        kind = draw(st.permutations([k for k in KINDS if k in kinds]))[0]
        index, part, name, field = draw(st.permutations(
            [t for t in targets if kind_of(t[3]) == kind]))[0]
        if index is None:
            body[name] = draw(field_values(field, max_item_bytes))
            continue
        item = body["items"][index] = dict(body["items"][index])
        if field is None:
            item[draw(KEYS)] = draw(JSON)
        elif part:
            item[part] = dict(item[part]) if isinstance(item.get(part), dict) else {}
            item[part][name] = draw(field_values(field, max_item_bytes))
        else:
            item[name] = draw(field_values(field, max_item_bytes))
    return body


# ---- what must hold --------------------------------------------------------------------------

def loaded_or_refused(schema, raw):
    try:
        return schema.load(raw)
    except ValidationError:
        return None


def assert_validators_agree(raw):
    """The fast path and marshmallow give the same answer on an item and its eventData."""
    schema = EVENT_ITEM if raw.get("itemType", "event") == "event" else RECORD_ITEM
    pairs = [(schema, raw)]
    slow = loaded_or_refused(schema, raw)
    data_schema = EVENT_DATA_SCHEMAS.get(raw.get("eventType"))
    if slow is not None and data_schema is not None and isinstance(raw.get("eventData"), dict):
        pairs.append((data_schema, raw["eventData"]))
    for each, value in pairs:
        fast = FastLoader(each).load(value)
        if fast is not None:
            expected = loaded_or_refused(each, value)
            assert expected is not None, f"the fast path took what marshmallow refuses: {value!r}"
            assert exact(fast) == exact(expected), (fast, expected)
    return slow


def in_calendar(text):
    """A time the API took: an instant inside 0001-01-01..9999-12-31 in UTC."""
    moment = text if isinstance(text, datetime) else datetime.fromisoformat(text)
    moment.astimezone(UTC)  # raises OverflowError outside the calendar


def assert_canonical(raw, schema, queued=None):
    """An acknowledged item as SPEC §10 has it: ids match in full, whole numbers are integers
    (stored as sent: `queued` is the item's queue entry), times lie inside the calendar."""
    for name, field in schema.fields.items():
        if name not in raw:
            continue
        value = raw[name]
        if id_pattern(field) is not None:
            assert re.fullmatch(id_pattern(field), value), (name, value)
        if isinstance(field, fields.Integer):
            assert type(value) in (int, float) and value == int(value), (name, value)
            if queued is not None:
                stored = queued.get(name, queued["itemData"].get(name))
                assert stored == value and type(stored) is int, (name, value, stored)
        if isinstance(field, fields.DateTime):
            in_calendar(value)
    if schema is EVENT_ITEM and raw.get("metadata", {}).get("clientTimestamp") is not None:
        in_calendar(raw["metadata"]["clientTimestamp"])


def queue_entries(store, app_id, body, answer):
    """Each accepted item of the batch with its queue entry. The answer names items by the
    client's ids; the queue may keep one under a variant id (an eventId re-used with another
    payload), so entries are matched in arrival order."""
    accepted = [raw for raw, result in zip(body["items"], answer["results"], strict=True)
                if result["status"] == "accepted"]
    entries = store.batch_items(app_id, body["batchId"])
    assert len(entries) == len(accepted), (entries, answer)
    return [(raw, store.get_queue_item(app_id, entry["itemId"]))
            for raw, entry in zip(accepted, entries, strict=True)]


def assert_read_back_after_sync(client, headers, store, app_id, body, answer):
    """After the sync: the batch status, and what each accepted item became, as sent."""
    status = client.get(answer["statusUrl"], headers=headers)
    assert status.status_code == 200, status.get_data(as_text=True)
    assert [r["status"] for r in status.get_json()["results"]] \
        == [r["status"] for r in answer["results"]]
    conflicted = {c["itemId"] for c in store.list_conflicts(app_id=app_id, limit=100)}
    for raw, queued in queue_entries(store, app_id, body, answer):
        if queued["itemType"] == "event":
            event = store.get_event(app_id, queued["itemData"]["eventId"])
            if event is not None and event["payloadHash"] == queued["payloadHash"]:
                stored_event(store, app_id, dict(raw, eventId=queued["itemData"]["eventId"]))
                assert event["userId"] == raw.get("userId", body.get("userId"))
                assert event["timestamp"].tzinfo is not None
        elif queued["itemId"] not in conflicted:
            written = store.version_written_by(app_id, queued["itemId"])
            if written is not None:
                assert exact(written["data"]) == exact(raw["data"])


def assert_api_reads(client, headers):
    """Records and conflicts, listed and one by one, and the metrics."""
    records = client.get("/api/telemetry/records", headers=headers)
    assert records.status_code == 200, records.get_data(as_text=True)
    for record in records.get_json()["records"]:
        path = (f"/api/telemetry/records/{quote(record['recordType'], safe='')}/"
                f"{quote(record['recordId'], safe='')}")
        one = client.get(path, headers=headers)
        assert one.status_code == 200 and exact(one.get_json()["data"]) == exact(record["data"])
    conflicts = client.get("/api/telemetry/conflicts", headers=headers)
    assert conflicts.status_code == 200, conflicts.get_data(as_text=True)
    for conflict in conflicts.get_json()["conflicts"]:
        one = client.get(f"/api/telemetry/conflicts/{conflict['id']}", headers=headers)
        assert one.status_code == 200, one.get_data(as_text=True)
    assert client.get("/api/telemetry/metrics", headers=headers).status_code == 200


CONSOLE_PAGES = ("/console/", "/console/queue", "/console/batches", "/console/errors",
                 "/console/conflicts?status=all", "/console/events")
DETAIL_LINK = re.compile(r'href="(/console/(?:queue|batches|conflicts)/[^"/?]+)"')


def assert_console_reads(session, batch_id, n):
    """The console: the queue searched for the example's batch, page and htmx fragment, and
    each item's detail page; then one list page in turn (page or fragment) and the detail
    pages of its newest rows."""
    search = f"/console/queue?q={quote(batch_id, safe='')}"
    listed = CONSOLE_PAGES[n % len(CONSOLE_PAGES)]
    fragment = {"HX-Request": "true"} if n // len(CONSOLE_PAGES) % 2 else {}
    links = []
    for page, headers, limit in ((search, {}, None), (search, {"HX-Request": "true"}, 0),
                                 (listed, fragment, 3)):
        response = session.get(page, headers=headers)
        assert response.status_code == 200, (page, headers, response.status_code)
        links.extend(DETAIL_LINK.findall(response.get_data(as_text=True))[:limit])
    for link in dict.fromkeys(links):
        response = session.get(link)
        assert response.status_code == 200, (link, response.status_code)


def ordinary_batch(n):
    """The second app's traffic: plain events and a new record."""
    return {"batchId": f"other-{n}", "userId": "u-other", "items": [
        {"itemType": "event", "eventId": f"o-{n}-{i}", "eventType": "interview_completed",
         "eventData": {"score": 70 + i, "duration": 60},
         "metadata": {"clientTimestamp": "2026-11-28T10:00:00Z"}} for i in range(3)] + [
        {"itemType": "note", "itemId": f"o-{n}-r", "recordId": f"o-{n}", "baseVersion": 0,
         "data": {"title": "ordinary"}}]}


def shown(value):
    """A value as the failure report shows it, long texts cut to their start and length."""
    if isinstance(value, dict):
        return {shown(k): shown(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shown(v) for v in value]
    if isinstance(value, str) and len(value) > 80:
        return f"{value[:20]!r}... ({len(value)} characters)"
    return value


def assert_ingested(client, headers, store, body, response):
    """The answer to the batch: a 4xx in the error shape that stored nothing, or a batch that
    reads back and whose resend is answered the same, storing nothing."""
    if response.status_code >= 400:
        assert_error_shape(response, response.status_code)
        assert store.queue_counts(app_id=APP) == {}
        if isinstance(body["batchId"], str):
            assert store.get_batch_log(APP, body["batchId"]) is None
        return
    answer = response.get_json()
    status = client.get(answer["statusUrl"], headers=headers)
    assert status.status_code == 200, status.get_data(as_text=True)
    stored = store.queue_counts(app_id=APP)
    again = client.post(BATCH, json=body, headers=headers)
    assert again.status_code == 202, again.get_data(as_text=True)
    assert again.get_json() == answer
    assert store.queue_counts(app_id=APP) == stored


def assert_acknowledged_canonical(store, body, answer):
    """Every item acknowledged is one the validators' rules allow: marshmallow takes it, its
    ids match in full, its whole numbers are integers stored as sent, its times are instants
    in the calendar; every refused one names its problems."""
    assert_canonical(body, ENVELOPE)
    for raw, result in zip(body["items"], answer["results"], strict=True):
        if result["status"] == "rejected":
            assert result["fields"], result
            continue
        schema = EVENT_ITEM if raw.get("itemType", "event") == "event" else RECORD_ITEM
        assert loaded_or_refused(schema, raw) is not None, raw
        assert_canonical(raw, schema)
    for raw, queued in queue_entries(store, APP, body, answer):
        assert_canonical(raw, EVENT_ITEM if queued["itemType"] == "event" else RECORD_ITEM,
                         queued)


# A failing example padded to the item limit would have Hypothesis warn about its repr (and
# warnings are errors): the note() of each example shows it shortened instead.
@pytest.mark.filterwarnings("ignore:Generating overly large repr")
def test_whatever_ingest_accepts_reads_back_resends_and_syncs(app, client, store, console):
    session = console("admin")
    # Every example starts from an empty store (the console's user put back), so that one
    # example's items cannot fail the next and a failure shrinks to its own cause.
    admin = {k: v for k, v in store.get_user("admin").items() if k not in ("id", "sessionEpoch")}
    max_item_bytes = int(app.config["MAX_ITEM_BYTES"])

    @settings(max_examples=80, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                     HealthCheck.data_too_large, HealthCheck.large_base_example,
                                     HealthCheck.filter_too_much])
    @given(body=batches(max_item_bytes))
    def example(body):
        note(f"batch: {shown(body)!r}")
        store.reset()
        store.create_user(dict(admin))
        n = next(_examples)
        headers = {"Authorization": f"Bearer {create_key(store, APP, ['admin'])[0]}"}
        other = {"Authorization": f"Bearer {create_key(store, OTHER_APP, ['admin'])[0]}"}
        for raw in body["items"]:
            assert_validators_agree(raw)

        neighbour = client.post(BATCH, json=ordinary_batch(n), headers=other)
        assert neighbour.status_code == 202, neighbour.get_data(as_text=True)
        response = client.post(BATCH, json=body, headers=headers)
        assert response.status_code < 500, response.get_data(as_text=True)
        assert_ingested(client, headers, store, body, response)

        run_sync(store, app.config)

        if response.status_code == 202:
            assert_read_back_after_sync(client, headers, store, APP, body, response.get_json())
        assert_api_reads(client, headers)
        assert_console_reads(session, body["batchId"] if isinstance(body["batchId"], str)
                             else "", n)
        theirs = client.get(neighbour.get_json()["statusUrl"], headers=other).get_json()
        assert [r["syncStatus"] for r in theirs["results"]] == ["done"] * 4, theirs["results"]
        if response.status_code == 202:
            assert_acknowledged_canonical(store, body, response.get_json())

    example()
