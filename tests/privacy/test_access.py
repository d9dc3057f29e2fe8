"""A person's data given back (app/privacy/access.py), on both stores: the ids that are theirs,
the export document (every kind of their rows, nothing of anyone else's) and the timeline's
keyset pages (every entry once, newest first)."""

import json
from datetime import datetime

import pytest

from app.privacy.access import (
    InvalidCursor,
    person_document_chunks,
    person_ids,
    person_known,
    person_timeline,
)
from tests.sync.helpers import sync

from .people import ANN_MARK, APP, BOB_MARK, event, leave_pending, make_person, post


@pytest.fixture
def people(client, auth, app, store):
    ann = make_person(client, auth, app, store, "ann", ANN_MARK, anonymous_id="anon-1")
    bob = make_person(client, auth, app, store, "bob", BOB_MARK, events=4, day=10)
    leave_pending(client, auth, ann)
    leave_pending(client, auth, bob)
    return {"ann": ann, "bob": bob}


def document(store, app, user_id):
    return json.loads("".join(person_document_chunks(store, app.config, APP, user_id)))


def test_a_persons_ids_are_the_user_id_and_the_anonymous_ids_linked_to_it(store, people):
    assert person_ids(store, APP, "ann") == ["ann", "anon-1"]
    assert person_ids(store, APP, "bob") == ["bob"]
    assert person_ids(store, APP, "nobody") == ["nobody"]
    assert person_known(store, APP, "ann") and person_known(store, APP, "bob")
    assert not person_known(store, APP, "nobody")


def test_the_document_holds_every_kind_of_the_persons_rows_and_nothing_else(store, app,
                                                                            people):
    ann = people["ann"]
    doc = document(store, app, "ann")
    assert list(doc) == ["userId", "appId", "exportedAt", "profile", "events", "queueItems",
                         "records", "recordVersions", "conflicts", "batches"]
    assert (doc["userId"], doc["appId"]) == ("ann", APP)
    datetime.fromisoformat(doc["exportedAt"])
    assert doc["profile"]["anonymousIds"] == ["anon-1"]
    assert doc["profile"]["traits"] == {"mark": ANN_MARK}
    ids = {"ann", "anon-1"}
    # Events: the anonymous ones and her own, each once (the pending one is not applied yet).
    assert sorted(e["eventId"] for e in doc["events"]) == sorted(ann["events"])
    assert all({e.get("userId"), e.get("anonymousId")} & ids for e in doc["events"])
    # Every item she sent, the pending one and the resent event's variant included.
    queued = [q["itemData"].get("eventId") or q["itemId"] for q in doc["queueItems"]]
    assert sorted(set(queued)) == sorted(set(ann["items"]))
    assert len(queued) == len(ann["items"])
    assert {q["status"] for q in doc["queueItems"]} >= {"done", "pending", "conflict"}
    assert [(r["recordId"], r["version"]) for r in doc["records"]] == [(ann["record"], 2)]
    assert sorted(v["version"] for v in doc["recordVersions"]) == [1, 2]
    assert sorted(c["kind"] for c in doc["conflicts"]) == ["event", "record"]
    assert sorted(b["batchId"] for b in doc["batches"]) == sorted(ann["batches"])
    for section in ("queueItems", "records", "recordVersions", "conflicts", "batches"):
        assert doc[section] and all(row["userId"] in ids for row in doc[section]), section
    # Nothing of bob's, anywhere in it; and bob's own document holds nothing of ann's.
    text = json.dumps(doc)
    assert BOB_MARK not in text and '"bob"' not in text
    assert ANN_MARK in text
    bob_text = json.dumps(document(store, app, "bob"))
    assert ANN_MARK not in bob_text and "anon-1" not in bob_text and BOB_MARK in bob_text


def test_rows_come_back_newest_first_in_keyset_chunks(store, people):
    """The port's reads, chunk after chunk, give every row once, newest first."""
    everything = store.person_queue_items(APP, ["ann", "anon-1"], limit=1000)
    assert len(everything) == len(people["ann"]["items"])
    walked, before = [], None
    while True:
        rows = store.person_queue_items(APP, ["ann", "anon-1"], before, 2)
        walked += rows
        if len(rows) < 2:
            break
        before = rows[-1]["key"]
    assert [r["id"] for r in walked] == [r["id"] for r in everything]
    created = [r["createdAt"] for r in everything]
    assert created == sorted(created, reverse=True)
    assert store.person_queue_items(APP, ["ann"], "not-a-key", 5) == []


def identity(entry):
    doc = entry["doc"]
    return {"event": lambda: doc["eventId"], "batch": lambda: doc["batchId"],
            "conflict": lambda: str(doc["id"]),
            "record_edit": lambda: (doc["recordId"], doc["version"])}[entry["kind"]]()


@pytest.mark.parametrize("limit", [1, 3, 7])
def test_the_timelines_pages_hold_every_entry_once_newest_first(store, people, limit):
    ann = people["ann"]
    whole = person_timeline(store, APP, "ann", limit=500)
    assert whole["next"] is None
    kinds = [entry["kind"] for entry in whole["entries"]]
    assert kinds.count("event") == len(ann["events"])
    assert kinds.count("record_edit") == 2 and kinds.count("conflict") == 2
    assert kinds.count("batch") == len(ann["batches"])
    paged, cursor, pages = [], None, 0
    while True:
        page = person_timeline(store, APP, "ann", before=cursor, limit=limit)
        # Full pages, but the last; a cursor only when more entries follow.
        assert 0 < len(page["entries"]) <= limit
        assert page["next"] is None or len(page["entries"]) == limit
        paged += page["entries"]
        pages += 1
        cursor = page["next"]
        if cursor is None:
            break
        assert pages < 200
    keys = [(e["kind"], identity(e)) for e in paged]
    assert len(keys) == len(set(keys)) == len(whole["entries"])
    assert keys == [(e["kind"], identity(e)) for e in whole["entries"]]
    times = [e["at"] for e in paged]
    assert times == sorted(times, reverse=True)
    assert all(BOB_MARK not in json.dumps(e["doc"], default=str) for e in paged)


@pytest.mark.parametrize("cursor", ["", "x" * 5000, "not base64 !", "eyJ4IjoxfQ",  # {"x":1}
                                    "eyJjb25mbGljdCI6dHJ1ZX0",  # {"conflict":true}
                                    "W10",  # []
                                    "eyJldmVudCI6Inp6In0"])  # {"event":"zz"}: no event's key
def test_a_cursor_not_made_by_the_timeline_is_refused(store, people, cursor):
    page = person_timeline(store, APP, "ann", limit=2)
    assert page["next"]
    with pytest.raises(InvalidCursor):
        person_timeline(store, APP, "ann", before=cursor)
    with pytest.raises(InvalidCursor):
        person_timeline(store, APP, "ann", before=page["next"][:-3])


@pytest.mark.only_on("sqlite", reason="a few thousand events: mongomock is slow (the Mongo "
                     "adapter runs the same document test above with a few)")
def test_the_document_of_a_person_with_thousands_of_events_is_whole_and_valid(
        client, auth, app, store):
    sent = []
    for n in range(6):  # a user's backlog holds 500 items: a sync run after each batch
        items = [event(f"big-{n}-{i}", "big", 1 + i % 28, i % 60) for i in range(500)]
        envelope = {"anonymousId": "big-anon"} if n < 2 else {"userId": "big"}
        post(client, auth, items, **envelope)
        sync(app, store)
        sent += [item["eventId"] for item in items]
    post(client, auth, [{"itemType": "identify", "eventId": "big-identify", "userId": "big",
                         "anonymousId": "big-anon"}], userId="big")
    sync(app, store)
    pieces = list(person_document_chunks(store, app.config, APP, "big"))
    doc = json.loads("".join(pieces))
    events = [e["eventId"] for e in doc["events"]]
    assert len(events) == len(set(events)) == 3000 and set(events) == set(sent)
    assert len(doc["queueItems"]) == 3001 and len(doc["batches"]) == 5
    # Streamed in chunks: no piece holds more than a chunk of rows.
    assert len(pieces) > 20 and max(map(len, pieces)) < len("".join(pieces)) / 2
