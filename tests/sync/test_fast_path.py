"""SQLite's fast path (the ApplyNewEvents capability) and the engine's portable path leave the
same results: the same batches drained once with the capability and once without it give the
same telemetry, records, conflicts, queue states and batch-log counts, read through the port."""

from datetime import timedelta

from app.accounts.keys import create_key
from app.extensions import store as store_ext
from app.ingest import service
from app.store.common import utcnow
from app.store.port.sync import ApplyNewEvents
from app.sync.outcomes import COUNT_KEYS
from tests.conftest import close_app, make_app

from .helpers import edit, event, send, sync

STORE_SPECIFIC = ("compares SQLite's fast path (a capability only SQLite offers) with the "
                  "portable path both stores take; it builds its own SQLite apps")

EVENT_IDS = [f"e{n}" for n in range(1, 10)] + ["s1", "s2", "s3", "s4", "late", "v-1", "v-2",
                                                "w-1"]
ITEM_IDS = EVENT_IDS + ["e3~", "r-1", "r-2"]


def when(seconds):
    return f"2026-01-01T10:00:{seconds:02d}Z"


def fill(client, auth):
    """The batches: new events, an eventId re-used with another payload and one sent again,
    sequenced events with a duplicate seq, and records mixed with events."""
    send(client, auth, [event(f"e{n}", eventData={"questionId": f"q{n}"},
                              metadata={"clientTimestamp": when(n)}) for n in range(1, 5)])
    send(client, auth, [event("e3", eventData={"questionId": "q33"}),  # another payload
                        # sent again, as it was:
                        event("e4", eventData={"questionId": "q4"},
                              metadata={"clientTimestamp": when(4)}),
                        event("e5", eventData={"questionId": "q5"},
                              metadata={"os": "ios", "k": [1, 2], "skewMs": "theirs"})])
    send(client, auth, [event("s1", seq=1), event("s2", seq=2), event("s3", seq=3)],
         clientId="c1")
    send(client, auth, [event("s4", seq=2)], clientId="c1")  # at or below the last: duplicate
    send(client, auth, [edit("r-1", "r1", 0, {"title": "a"}), event("e6"),
                        edit("r-2", "r1", 0, {"title": "b"}), event("e7")])
    send(client, auth, [event("e8", metadata={"clientTimestamp": when(8)}, priority=5),
                        event("e9", priority=5)])
    send(client, auth, [event("late",
                              metadata={"clientTimestamp": "2025-12-31T23:59:59.123456Z"})])
    # A visitor's events, and another user's with the visitor's id beside.
    anonymous = {"batchId": "b-anonymous", "anonymousId": "v1", "items": [
        event("v-1", metadata={"clientTimestamp": when(11)}), event("v-2")]}
    assert client.post("/api/telemetry/batch", json=anonymous, headers=auth).status_code == 202
    send(client, auth, [event("w-1", anonymousId="v1", metadata={"clientTimestamp": when(12)})],
         user_id="u2")


def outcome(tmp_path, monkeypatch, fast, received_at):
    """Fill a fresh app's store, drain it (with the fast path or without), and read back."""
    # Both stores receive the batches at the same instant, which the events' times are made of.
    monkeypatch.setattr(service, "utcnow", lambda: received_at)
    app = make_app(tmp_path / ("fast" if fast else "portable"), SYNC_BATCH_SIZE=3)
    try:
        with app.app_context():
            store = store_ext.get(app)
            raw, _doc = create_key(store, "testapp", ["ingest", "read", "admin"])
            fill(app.test_client(), {"Authorization": f"Bearer {raw}"})
            applied = []
            capability = store.capability
            if fast:
                def counted(now, limit):
                    done = capability(ApplyNewEvents)(now, limit)
                    applied.append(bool(done))
                    return done
                monkeypatch.setattr(store, "capability",
                                    lambda kind: counted if kind is ApplyNewEvents else None)
            else:
                monkeypatch.setattr(store, "capability", lambda kind: None)
            logs = sync(app, store)
            logs += sync(app, store, at=store.get_queue_item("testapp", "e1")["createdAt"]
                         + timedelta(minutes=5))
            monkeypatch.setattr(store, "capability", capability)
            return applied, read_back(store, logs)
    finally:
        close_app(app)


def read_back(store, logs):
    events = {}
    for event_id in EVENT_IDS:
        doc = store.get_event("testapp", event_id)
        if doc is not None:
            doc = {k: v for k, v in doc.items() if k not in ("id", "_id", "createdAt")}
            # The fast path computes times in SQL, through julianday: the same to a millisecond.
            doc["timestamp"] = round(doc["timestamp"].timestamp(), 3)
        events[event_id] = doc
    items = {}
    for item_id in ITEM_IDS:
        if item_id == "e3~":  # e3's other payload, kept under a variant id
            clash = next(c for c in store.list_conflicts("testapp") if c["kind"] == "event")
            doc = store.get_queue_item("testapp", clash["itemId"])
        else:
            doc = store.get_queue_item("testapp", item_id)
        items[item_id] = {k: doc[k] for k in ("status", "attempts", "lastError")}
    conflicts = sorted((c["kind"], c["status"], c.get("strategy"), c.get("recordId") or "")
                       for c in store.list_conflicts("testapp"))
    record = store.get_record("testapp", "note", "r1")
    def seen(doc):  # times to the millisecond, as the events' (above)
        return (doc["eventCount"], round(doc["firstSeen"].timestamp(), 3),
                round(doc["lastSeen"].timestamp(), 3))

    people = {doc["userId"]: seen(doc)
              for doc in store.get_people("testapp", ["u1", "u2", "v1"]).values()}
    people.update({f"visitor {doc['anonymousId']}": seen(doc)
                   for doc in store.get_identities("testapp", ["u1", "v1"]).values()})
    return {
        "people": people,
        "events": events, "items": items, "conflicts": conflicts,
        "record": {k: record[k] for k in ("version", "data")},
        "queue": store.queue_counts(),
        "logs": [{k: log[k] for k in (*COUNT_KEYS, "status")} for log in logs],
        "stored logs": sorted(tuple(log[k] for k in COUNT_KEYS) for log in store.sync_logs()),
    }


def test_the_fast_path_and_the_portable_path_leave_the_same_results(tmp_path, monkeypatch):
    received_at = utcnow() - timedelta(seconds=1)
    applied, fast = outcome(tmp_path, monkeypatch, True, received_at)
    _none, portable = outcome(tmp_path, monkeypatch, False, received_at)
    # The fast path took some batches whole and declined others (it is worth comparing).
    assert True in applied and False in applied
    for part in fast:
        assert fast[part] == portable[part], part
    # e3's other payload and r1's second edit (both sides changed the title) wait as conflicts.
    assert fast["queue"] == {"done": 18, "conflict": 2}
    assert {key: counts[0] for key, counts in fast["people"].items()} == {
        "u1": 13, "u2": 1, "visitor v1": 2}
    assert fast["events"]["w-1"]["anonymousId"] == "v1"
    assert fast["items"]["s4"]["status"] == "done" and fast["events"]["s4"] is None
    assert fast["events"]["e3"]["eventData"] == {"questionId": "q3"}
