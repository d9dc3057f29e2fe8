"""The store contract for the events read port: pages, chunks, counts per hour and day, one
event's detail. Every adapter gives the same, hand-worked answers."""

from datetime import UTC, datetime, timedelta

import pytest

from app.ingest.queue import enqueue
from app.ingest.validate import encode, payload_hash
from app.store.port import ApplyNewEvents
from app.sync.documents import telemetry_document

from .helpers import batch_log, queue_item

pytestmark = pytest.mark.both_stores

SAME = "2026-01-01T10:00:00"  # many events share this time


def at(text):
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def item(event_id, app_id, user_id, event_type, timestamp, anonymous_id=None, batch_id=None):
    data = {"eventId": event_id, "eventType": event_type, "eventData": {"n": 1},
            "metadata": {}}
    if anonymous_id is not None:
        data["anonymousId"] = anonymous_id
    doc = queue_item(event_id, app_id=app_id, user_id=user_id, data=data, batch_id=batch_id)
    text = encode(data)
    doc.update(itemData=text, payloadHash=payload_hash(user_id, "event", text),
               meta={"receivedAt": f"{timestamp}+00:00", "timestamp": f"{timestamp}+00:00"})
    return doc


# (eventId, appId, userId, eventType, timestamp, anonymousId)
EVENTS = [
    *[(f"same-{n:02d}", "app1", "ann", "view", SAME, None) for n in range(23)],
    *[(f"other-{n}", "app2", "cat", "view", SAME, None) for n in range(4)],
    ("anon-1", "app1", None, "open", "2026-01-01T09:59:59.999", "a-ann"),
    ("both-1", "app1", "ann", "open", "2026-01-01T11:30:00", "a-ann"),
    ("bob-1", "app1", "bob", "quiz", "2026-01-02T00:00:00", None),
    ("bob-2", "app1", "bob", "quiz", "2026-01-01T23:59:59.500", None),
    ("early", "app1", "bob", "quiz", "0001-01-01T00:00:00", None),
    ("late", "app2", "cat", "open", "9999-12-31T23:00:00", None),
]


def apply(store, events, batch_id=None):
    """Store `events` as telemetry the way the sync engine does."""
    for app_id in sorted({e[1] for e in events}):
        enqueue(store, app_id, [item(*e, batch_id=batch_id) for e in events if e[1] == app_id])
    now = datetime.now(UTC)
    fast_path = store.capability(ApplyNewEvents)
    if fast_path is not None:
        with store.unit_of_work():
            assert len(fast_path(now, 1000)) == len(events)
        return
    with store.unit_of_work():
        items = store.claim_items(now, now + timedelta(minutes=5), 1000)
        store.insert_events([telemetry_document(i, now) for i in items])
        store.finish_items([{"id": i["id"], "status": "done", "attempts": 1,
                             "leaseOwner": i.get("leaseOwner")} for i in items], now)


@pytest.fixture
def filled(store):
    apply(store, EVENTS)
    return store


def expected(predicate):
    """eventIds of EVENTS matching, newest first; equal times in the order they were stored
    (later first), as the store's ids grow with arrival."""
    rows = [(at(e[4]), n, e[0]) for n, e in enumerate(EVENTS) if predicate(e)]
    return [event_id for *_, event_id in sorted(rows, reverse=True)]


def walk(store, filters, limit):
    """Every eventId event_page finds, page after page."""
    found, before = [], None
    for _ in range(100):
        page = store.event_page(filters, before=before, limit=limit)
        found += [e["eventId"] for e in page]
        if len(page) < limit:
            return found
        before = page[-1]["key"]
    raise AssertionError("pages never ended")


@pytest.mark.parametrize("limit", [1, 2, 7, 23, 50])
def test_pages_through_equal_times_never_skip_or_repeat(filled, limit):
    assert walk(filled, {"appId": "app1"}, limit) == expected(lambda e: e[1] == "app1")
    assert walk(filled, {}, limit) == expected(lambda e: True)


def test_event_documents_carry_the_explorers_fields(filled):
    [event] = filled.event_page({"appId": "app1", "eventId": "both-1"})
    assert {k: v for k, v in event.items() if k not in ("key", "createdAt", "metadata")} == {
        "appId": "app1", "eventId": "both-1", "userId": "ann", "anonymousId": "a-ann",
        "eventType": "open", "eventData": {"n": 1}, "timestamp": at("2026-01-01T11:30:00"),
        "status": "applied"}
    assert isinstance(event["key"], str) and event["createdAt"] is not None
    assert event["metadata"]["serverTimestamp"].startswith("2026-01-01T11:30:00")


@pytest.mark.parametrize("filters, predicate", [
    ({"appId": "app1", "userIds": ["ann"]}, lambda e: e[1] == "app1" and e[2] == "ann"),
    # A person's ids: userId OR anonymousId, each event once.
    ({"appId": "app1", "userIds": ["ann", "a-ann"]},
     lambda e: e[1] == "app1" and (e[2] == "ann" or e[5] == "a-ann")),
    ({"appId": "app1", "userIds": ["a-ann"]}, lambda e: e[5] == "a-ann"),
    ({"userIds": ["cat"]}, lambda e: e[2] == "cat"),
    ({"appId": "app1", "eventTypes": ["quiz", "open"]},
     lambda e: e[1] == "app1" and e[3] in ("quiz", "open")),
    ({"eventTypes": ["open"]}, lambda e: e[3] == "open"),
    ({"appId": "app1", "userIds": ["ann", "a-ann"], "eventTypes": ["open"]},
     lambda e: e[3] == "open" and e[1] == "app1"),
    # Half-open: since is in, until is out.
    ({"appId": "app1", "since": at(SAME), "until": at("2026-01-02T00:00:00")},
     lambda e: e[1] == "app1" and at(SAME) <= at(e[4]) < at("2026-01-02T00:00:00")),
    ({"since": at("2026-01-01T23:00:00")}, lambda e: at(e[4]) >= at("2026-01-01T23:00:00")),
    ({"until": at("2026-01-01T00:00:00")}, lambda e: at(e[4]) < at("2026-01-01T00:00:00")),
    ({"eventId": "bob-2"}, lambda e: e[0] == "bob-2"),
    ({"appId": "app2", "eventId": "bob-2"}, lambda e: False),
    ({"appId": "nobody"}, lambda e: False),
    ({"eventTypes": []}, lambda e: False),
    ({"userIds": []}, lambda e: False),
])
def test_filters(filled, filters, predicate):
    assert walk(filled, filters, 5) == expected(predicate)
    chunks = list(filled.event_chunks(filters, chunk=4))
    assert all(0 < len(c) <= 4 for c in chunks)
    assert [e["eventId"] for c in chunks for e in c] == expected(predicate)


@pytest.mark.parametrize("key", [
    "", "x", "/", "1/", "/1", "nan/1", "inf/1", "-inf/1", "1e400/1", "1/1e3",
    "1/99999999999999999999999", "1.5/abc", "10000000000000000000000/65a1b2c3d4e5f60718293a4b",
    "1/65a1b2c3d4e5f60718293a4b/1", "12/zz", 12, None.__class__.__name__,
])
def test_a_key_no_page_made_is_refused(filled, key):
    with pytest.raises(ValueError):
        filled.event_page({}, before=key)


def test_unknown_filter_fields_are_refused(filled):
    with pytest.raises(ValueError):
        filled.event_page({"userId": "ann"})
    with pytest.raises(ValueError):
        filled.event_page({"userIds": "ann"})


def hist(store, filters, bucket):
    return [(start.isoformat(), t, n) for start, t, n in store.event_histogram(filters, bucket)]


def test_histogram_per_hour_and_day(filled):
    assert hist(filled, {"appId": "app1"}, "hour") == [
        ("0001-01-01T00:00:00+00:00", "quiz", 1),
        ("2026-01-01T09:00:00+00:00", "open", 1),
        ("2026-01-01T10:00:00+00:00", "view", 23),
        ("2026-01-01T11:00:00+00:00", "open", 1),
        ("2026-01-01T23:00:00+00:00", "quiz", 1),
        ("2026-01-02T00:00:00+00:00", "quiz", 1),
    ]
    assert hist(filled, {}, "day") == [
        ("0001-01-01T00:00:00+00:00", "quiz", 1),
        ("2026-01-01T00:00:00+00:00", "open", 2),
        ("2026-01-01T00:00:00+00:00", "quiz", 1),
        ("2026-01-01T00:00:00+00:00", "view", 27),
        ("2026-01-02T00:00:00+00:00", "quiz", 1),
        ("9999-12-31T00:00:00+00:00", "open", 1),
    ]
    assert hist(filled, {"eventTypes": ["quiz"]}, "day") == [
        ("0001-01-01T00:00:00+00:00", "quiz", 1), ("2026-01-01T00:00:00+00:00", "quiz", 1),
        ("2026-01-02T00:00:00+00:00", "quiz", 1)]


@pytest.mark.parametrize("since, until", [
    # Ranges that cut hours: the partial hours count only the events inside.
    ("2026-01-01T09:59:59.999", "2026-01-01T23:59:59.500"),
    ("2026-01-01T10:00:00.001", "2026-01-02T00:00:00"),
    ("2026-01-01T23:30:00", "2026-01-01T23:59:59.501"),
    ("2026-01-01T09:00:00", "2026-01-01T11:00:00"),
    ("2026-01-01T09:59:59.999", "2026-01-01T10:00:00"),
    ("2026-01-01T10:00:00", "2026-01-01T10:00:00"),
    ("2026-01-01T09:30:00", "2026-01-01T23:59:59.600"),
    ("2026-01-01T10:00:00", "2026-01-01T11:30:00.001"),
])
@pytest.mark.parametrize("bucket", ["hour", "day"])
def test_histogram_in_a_range_counts_exactly_the_events_inside(filled, since, until, bucket):
    lo, hi = at(since), at(until)
    inside = [e for e in EVENTS if lo <= at(e[4]) < hi]
    counts = {}
    for e in inside:
        t = at(e[4])
        start = (t.replace(minute=0, second=0, microsecond=0) if bucket == "hour"
                 else t.replace(hour=0, minute=0, second=0, microsecond=0))
        counts[start.isoformat(), e[3]] = counts.get((start.isoformat(), e[3]), 0) + 1
    want = sorted((k[0], k[1], n) for k, n in counts.items())
    assert hist(filled, {"since": lo, "until": hi}, bucket) == want
    # The same answer counted from the events (a person's filter takes that path).
    everyone = sorted({e[2] for e in EVENTS if e[2]} | {e[5] for e in EVENTS if e[5]})
    assert hist(filled, {"since": lo, "until": hi, "userIds": everyone}, bucket) == want


def test_person_histogram(filled):
    assert hist(filled, {"appId": "app1", "userIds": ["ann", "a-ann"]}, "hour") == [
        ("2026-01-01T09:00:00+00:00", "open", 1),
        ("2026-01-01T10:00:00+00:00", "view", 23),
        ("2026-01-01T11:00:00+00:00", "open", 1),
    ]


def test_hourly_counts_follow_inserts_and_deletes(store):
    apply(store, EVENTS[:3])
    assert hist(store, {}, "hour") == [("2026-01-01T10:00:00+00:00", "view", 3)]
    apply(store, [("new-1", "app1", "ann", "view", "2026-01-01T10:59:00", None)])
    assert hist(store, {}, "hour") == [("2026-01-01T10:00:00+00:00", "view", 4)]
    # Deleting events (retention here; erasure likewise) lowers the counts.
    store.prune_expired(datetime.now(UTC) + timedelta(days=1))
    assert hist(store, {}, "hour") == []
    assert store.event_page({}) == []
    apply(store, [("new-2", "app1", "ann", "view", "2026-01-01T11:00:00", None)])
    assert hist(store, {}, "hour") == [("2026-01-01T11:00:00+00:00", "view", 1)]
    assert hist(store, {}, "day") == [("2026-01-01T00:00:00+00:00", "view", 1)]


def test_event_detail_has_its_queue_item_and_batch_log(store):
    apply(store, [EVENTS[-3]], batch_id="b-1")
    with store.unit_of_work():
        assert store.insert_batch_log({**batch_log("b-1", []), "appId": "app1"})
    detail = store.event_detail("app1", "bob-2")
    assert detail["eventId"] == "bob-2" and detail["timestamp"] == at("2026-01-01T23:59:59.500")
    assert detail["queueItem"]["itemId"] == "bob-2"
    assert detail["queueItem"]["batchId"] == "b-1"
    assert detail["batchLog"]["batchId"] == "b-1"
    assert store.event_detail("app2", "bob-2") is None
    assert store.event_detail("app1", "nothing") is None
