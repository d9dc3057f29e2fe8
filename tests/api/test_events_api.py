"""The events read API on both stores: GET /api/telemetry/events (filters, keyset cursors) and
GET /api/telemetry/events/export (NDJSON and CSV), with the 400s of bad filters and cursors."""

import base64
import csv
import io
import json
import uuid
from datetime import timedelta

import pytest

from tests.sync.helpers import sync

from .events_seed import PAD, T0, event_doc

BATCH = "/api/telemetry/batch"
EVENTS = "/api/telemetry/events"
EXPORT = "/api/telemetry/events/export"
SAME = "2026-11-28T10:00:00Z"


def ev(event_id, at, event_type="opened", **ids):
    return {"itemType": "event", "eventId": event_id, "eventType": event_type,
            "eventData": {"n": 1, "label": event_id}, "metadata": {"clientTimestamp": at},
            **ids}


def post(client, auth, items, **envelope):
    body = {"batchId": f"b-{uuid.uuid4().hex}", "items": items, **envelope}
    answer = client.post(BATCH, json=body, headers=auth)
    assert answer.status_code == 202 and answer.json["rejected"] == 0, answer.json
    return answer.json


@pytest.fixture
def seeded(client, auth, app, store):
    """27 events of ann at one time, and a few others around it."""
    post(client, auth, [ev(f"same-{n:02d}", SAME) for n in range(27)], userId="ann")
    post(client, auth, [ev("anon-1", "2026-11-28T09:00:00Z", anonymousId="a-ann"),
                        ev("late-1", "2026-11-28T11:00:00Z", "closed", userId="bob"),
                        ev("early-1", "2026-11-27T11:00:00Z", "closed", userId="bob"),
                        ev("both-1", "2026-11-28T10:30:00Z", userId="ann",
                           anonymousId="a-ann")])
    sync(app, store)
    return store


def page(client, auth, status=200, **query):
    answer = client.get(EVENTS, query_string=query, headers=auth)
    assert answer.status_code == status, answer.json
    return answer.json


def walk(client, auth, limit, **query):
    found, cursor = [], None
    for _ in range(100):
        body = page(client, auth, limit=limit, **query, **({"cursor": cursor} if cursor else {}))
        found += body["events"]
        cursor = body["nextCursor"]
        if cursor is None:
            return found
    raise AssertionError("pages never ended")


def ids(events):
    return [e["eventId"] for e in events]


@pytest.mark.parametrize("limit", [1, 4, 27, 1000])
def test_pages_of_equal_times_skip_and_repeat_nothing(client, auth, seeded, limit):
    every = page(client, auth, limit=1000)["events"]
    assert len(every) == 31 and len(set(ids(every))) == 31
    times = [e["timestamp"] for e in every]
    assert times == sorted(times, reverse=True)
    assert ids(walk(client, auth, limit)) == ids(every)


def test_an_event_as_the_api_shows_it(client, auth, seeded):
    [event] = page(client, auth, userId="bob", eventType="closed", **{"from": "2026-11-28"
                                                                      "T00:00:00Z"})["events"]
    assert {k: event[k] for k in ("eventId", "appId", "userId", "anonymousId", "eventType",
                                  "eventData", "status")} == {
        "eventId": "late-1", "appId": "testapp", "userId": "bob", "anonymousId": None,
        "eventType": "closed", "eventData": {"n": 1, "label": "late-1"}, "status": "applied"}
    assert event["timestamp"].startswith("2026-11-28T11:00:00")
    assert event["metadata"]["clientTimestamp"] == "2026-11-28T11:00:00Z"
    assert event["receivedAt"] and event["createdAt"]


@pytest.mark.parametrize("query, expected", [
    ({"userId": "bob"}, ["late-1", "early-1"]),
    # userId matches the events whose userId or anonymousId is the id.
    ({"userId": "a-ann"}, ["both-1", "anon-1"]),
    ({"anonymousId": "a-ann"}, ["both-1", "anon-1"]),
    ({"eventType": ["closed"]}, ["late-1", "early-1"]),
    ({"userId": "ann", "eventType": ["closed"]}, []),
    ({"from": "2026-11-28T10:30:00Z", "to": "2026-11-28T11:00:00Z"}, ["both-1"]),
    ({"from": "2026-11-28T10:30:00.001", "to": "2026-11-28T11:00:00.001Z"}, ["late-1"]),
    ({"to": "2026-11-28T09:00:00Z"}, ["early-1"]),
    ({"from": "0001-01-01T00:00:00Z", "to": "9999-12-31T23:59:59.999999Z",
      "userId": "bob"}, ["late-1", "early-1"]),
    ({"from": "2026-11-28T12:00:00+14:00", "userId": "bob"}, ["late-1"]),
    ({"userId": "nobody"}, []),
    # Odd offsets and forms, read as the instants they name.
    ({"from": "2026-11-28T00:29:59.999999-10:30", "userId": "bob"}, ["late-1"]),
    ({"to": "20261128T1530+0530", "userId": "bob"}, ["early-1"]),
    ({"from": "0001-01-01T00:00:00-12:00", "to": "9999-12-31T23:59:59+01:00",
      "userId": "bob"}, ["late-1", "early-1"]),
    ({"from": "2026-11-28T11:00:00Z", "to": "2026-11-28T11:00:00Z"}, []),
])
def test_filters(client, auth, seeded, query, expected):
    assert ids(walk(client, auth, 1, **query)) == expected


def test_userid_and_anonymousid_together_give_the_persons_events(client, auth, seeded):
    got = ids(walk(client, auth, 5, userId="ann", anonymousId="a-ann"))
    assert got[0] == "both-1" and got[-1] == "anon-1" and len(got) == 29


def test_another_apps_key_sees_none_of_them(client, auth, seeded, api_key):
    other = {"Authorization": f"Bearer {api_key('read', app_name='otherapp')}"}
    assert page(client, other) == {"events": [], "nextCursor": None}
    answer = client.get(EXPORT, headers=other)
    assert answer.status_code == 200 and answer.data == b""


def test_a_read_scope_is_needed(client, seeded, api_key):
    ingest = {"Authorization": f"Bearer {api_key('ingest')}"}
    assert client.get(EVENTS, headers=ingest).status_code == 403
    assert client.get(EXPORT, headers=ingest).status_code == 403
    assert client.get(EVENTS).status_code == 401


def b64(text):
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


@pytest.mark.parametrize("cursor", [
    "x", "====", "%%%", b64("[]"), b64('{"k": 1}'), b64('{"k": "1/1", "x": 1}'),
    b64('{"k": "abc"}'), b64('{"k": "1e999/1"}'), b64('{"k": "nan/1"}'),
    b64('{"k": "1/100000000000000000000000000000"}'),
    b64('{"k": "100000000000000000000000000000/1"}'),
    b64('{"k": "100000000000000000000000000000/65a1b2c3d4e5f60718293a4b"}'),
    b64('{"k": "-62135596800001/65a1b2c3d4e5f60718293a4b"}'), b64("{" * 5000),
    b64('{"k": "' + "9" * 400 + '/1"}'), "A" * 600, b64('"k"'), b64("null"),
])
def test_a_cursor_not_made_here_is_refused(client, auth, seeded, cursor):
    body = page(client, auth, 400, cursor=cursor)
    assert body["error"] == "invalid_cursor" and "cursor" in body["fields"]


def test_a_cursor_made_here_resumes(client, auth, seeded):
    first = page(client, auth, limit=2)
    second = page(client, auth, limit=2, cursor=first["nextCursor"])
    assert not set(ids(first["events"])) & set(ids(second["events"]))


@pytest.mark.parametrize("query, field", [
    ({"limit": 0}, "limit"), ({"limit": 1001}, "limit"), ({"limit": 10 ** 30}, "limit"),
    ({"limit": "abc"}, "limit"), ({"limit": "1.5"}, "limit"), ({"limit": "1e3"}, "limit"),
    ({"limit": "9" * 5000}, "limit"), ({"limit": -1}, "limit"),
    ({"from": "2026-11-28T11:00:00Z", "to": "2026-11-28T10:00:00Z"}, "from"),
    ({"from": "2026-13-01T00:00:00Z"}, "from"), ({"from": "yesterday"}, "from"),
    ({"to": "0001-01-01T00:00:00+14:00"}, "to"), ({"to": "10000-01-01T00:00:00Z"}, "to"),
    ({"from": "2026-11-28"}, "from"), ({"userId": ""}, "userId"),
    ({"userId": "u" * 257}, "userId"), ({"eventType": ""}, "eventType"),
    ({"eventType": [f"t{n}" for n in range(21)]}, "eventType"), ({"color": "red"}, "color"),
])
def test_bad_arguments_are_400_naming_the_field(client, auth, seeded, query, field):
    body = page(client, auth, 400, **query)
    assert field in body["fields"], body
    answer = client.get(EXPORT, query_string={k: v for k, v in query.items() if k != "limit"},
                        headers=auth)
    assert answer.status_code == (400 if field != "limit" else 200)


def test_any_user_id_is_a_filter(client, auth, app, store):
    odd = "a/b c?d#e&f=%2F\u00e9\U0001f600" + "x" * 200
    post(client, auth, [ev("odd-1", SAME)], userId=odd)
    sync(app, store)
    assert ids(page(client, auth, userId=odd)["events"]) == ["odd-1"]


def lines(answer):
    return answer.get_data(as_text=True).splitlines()


def test_ndjson_export_is_the_events_one_per_line(client, auth, seeded):
    answer = client.get(EXPORT, query_string={"userId": "ann", "anonymousId": "a-ann"},
                        headers=auth)
    assert answer.status_code == 200
    assert answer.mimetype == "application/x-ndjson"
    assert answer.headers["Content-Disposition"] == "attachment; filename=events.ndjson"
    exported = [json.loads(line) for line in lines(answer)]
    assert exported == walk(client, auth, 1000, userId="ann", anonymousId="a-ann")
    default = client.get(EXPORT, headers=auth)
    assert [json.loads(line) for line in lines(default)] == walk(client, auth, 7)


def test_csv_export(client, auth, seeded):
    answer = client.get(EXPORT, query_string={"format": "csv", "userId": "bob"}, headers=auth)
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert answer.headers["Content-Disposition"] == "attachment; filename=events.csv"
    rows = list(csv.reader(io.StringIO(answer.get_data(as_text=True))))
    assert rows[0] == ["eventId", "eventType", "userId", "anonymousId", "timestamp",
                       "receivedAt", "createdAt", "eventData", "metadata"]
    assert [r[0] for r in rows[1:]] == ["late-1", "early-1"]
    late = rows[1]
    assert late[2:4] == ["bob", ""] and late[4].startswith("2026-11-28T11:00:00")
    assert json.loads(late[7]) == {"n": 1, "label": "late-1"}
    assert json.loads(late[8])["clientTimestamp"] == "2026-11-28T11:00:00Z"


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_cells_never_start_a_formula(client, auth, app, store, start):
    formula = f"{start}HYPERLINK(\"http://example.invalid\")"
    post(client, auth, [ev("f-1", SAME, f"{start}t", userId=formula,
                           anonymousId=formula + "-anon")])
    sync(app, store)
    answer = client.get(EXPORT, query_string={"format": "csv"}, headers=auth)
    [_header, row] = list(csv.reader(io.StringIO(answer.get_data(as_text=True))))
    assert row[1] == f"'{start}t" and row[2] == "'" + formula
    assert row[3] == "'" + formula + "-anon"
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row)


def test_an_export_crosses_chunks_of_equal_times_line_by_line(client, auth, store,
                                                              monkeypatch):
    # Small chunks, and many events at each time: every chunk boundary falls inside a run of
    # equal times. (The 100,000-event export runs on SQLite: test_events_export_memory.py.)
    monkeypatch.setattr("app.privacy.events.EXPORT_CHUNK", 7)
    docs = [{**event_doc("testapp", n), "timestamp": T0 - timedelta(seconds=n // 10)}
            for n in range(300)]
    with store.unit_of_work():
        store.insert_events(docs)
    answer = client.get(EXPORT, headers=auth, buffered=False)
    assert answer.status_code == 200
    seen = []
    for line in answer.response:
        for text in line.decode().splitlines() if isinstance(line, bytes) else line.splitlines():
            event = json.loads(text)
            assert event["eventData"] == {"n": int(event["eventId"][-7:]), "pad": PAD}
            seen.append(event["eventId"])
    # Newest first; equal times in the reverse of their arrival.
    assert seen == [f"testapp-e{n:07d}" for n in sorted(range(300), key=lambda n: (n // 10,
                                                                                    -n))]
    rows = list(csv.reader(io.StringIO(client.get(EXPORT, query_string={"format": "csv"},
                                                  headers=auth).get_data(as_text=True))))
    assert [r[0] for r in rows[1:]] == seen
