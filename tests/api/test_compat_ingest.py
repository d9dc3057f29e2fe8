"""Compatible ingest (app/ingest/compat.py): what every protocol adapter shares — the protocols'
own limits, the protocol named on each event and batch log, and refused messages logged with
their reasons (never dropped without a trace), even when none of a request's is valid."""

import gzip

import pytest

from app.ingest.compat import ingest_messages, messages_batch_id
from app.ingest.service import IngestError
from app.store.common import uuid7

APP = "testapp"


def message(event_id=None, **extra):
    return {"eventId": event_id or uuid7(), "userId": "u1", "eventType": "clicked",
            "eventData": {"n": 1}, **extra}


def send(app, the_store, items, batch_id=None):
    with app.app_context():
        return ingest_messages(the_store, app.config, APP, items, protocol="segment",
                               batch_id=batch_id or messages_batch_id("segment", [uuid7()]))


def test_valid_messages_are_kept_and_refused_ones_logged_with_their_reasons(app, store):
    good = [message(), message()]
    bad = message(eventType="")
    answer = send(app, store, [good[0], bad, good[1]], batch_id="segment-b1")
    assert (answer["accepted"], answer["rejected"]) == (2, 1)
    assert set(store.existing_items(APP, [m["eventId"] for m in good])) == {
        m["eventId"] for m in good}
    assert store.existing_items(APP, [bad["eventId"]]) == {}
    log = store.get_batch_log(APP, "segment-b1")
    assert (log["source"], log["status"], log["rejectedCount"]) == ("segment", "partial", 1)
    assert log["errors"][0]["index"] == 1 and "eventType" in log["errors"][0]["fields"]
    queued = store.get_queue_item(APP, good[0]["eventId"])
    assert queued["itemData"]["metadata"]["source"] == "segment"


def test_a_request_with_no_valid_message_is_logged_not_refused(app, store, client):
    answer = send(app, store, [message(eventType=""), "not an object"], batch_id="segment-b2")
    assert (answer["accepted"], answer["rejected"]) == (0, 2)
    log = store.get_batch_log(APP, "segment-b2")
    assert (log["status"], log["rejectedCount"]) == ("error", 2)
    assert store.rejected_counts() == {"segment": 2}
    scrape = client.get("/metrics").get_data(as_text=True)
    assert 'prepmate_items_rejected{protocol="segment"} 2.0' in scrape
    assert 'prepmate_items_rejected{protocol="native"} 0.0' in scrape


def test_a_resent_request_is_answered_as_before_and_stored_once(app, store):
    items = [message(), message(eventType="")]
    first = send(app, store, items, batch_id="segment-b3")
    again = send(app, store, items, batch_id="segment-b3")
    assert again == first
    # The same messages in another request are duplicates, not new events.
    other = send(app, store, items[:1], batch_id="segment-b4")
    assert (other["accepted"], other["duplicates"]) == (0, 1)


def test_the_protocols_take_larger_messages_and_batches_than_the_native_api(app, store):
    big = message(eventData={"text": "x" * (64 * 1024)})  # twice the native 32 KB item limit
    assert send(app, store, [big])["accepted"] == 1
    limit = app.config["COMPAT_MAX_BATCH_ITEMS"]
    with pytest.raises(IngestError) as refused:
        send(app, store, [message() for _ in range(limit + 1)])
    assert (refused.value.status, refused.value.code) == (413, "too_many_items")


@pytest.mark.parametrize("messages", [
    [{"event": "a", "n": 1}],
    [{"event": "a", "n": 2**64}],  # past 64 bits: its item is refused, its request still named
])
def test_resent_messages_make_the_same_batch_id(messages):
    same = [{**m} for m in messages]
    assert messages_batch_id("posthog", messages) == messages_batch_id("posthog", same)
    assert messages_batch_id("posthog", messages) != messages_batch_id("segment", messages)
    assert messages_batch_id("posthog", messages) != messages_batch_id("posthog", [{}])


@pytest.mark.parametrize("path, inflated, status", [
    ("/api/telemetry/batch", 2 * 1024 * 1024, 413),   # past the native 1 MiB
    ("/v1/no-such-path", 2 * 1024 * 1024, 404),        # within the compatible 20 MiB
    ("/capture/no-such-path", 2 * 1024 * 1024, 404),
    ("/v1/no-such-path", 21 * 1024 * 1024, 413),       # past it
])
def test_the_compatible_paths_have_their_own_body_limit(client, auth, path, inflated, status):
    body = gzip.compress(b" " * inflated)
    answer = client.post(path, data=body, headers={**auth, "Content-Encoding": "gzip",
                                                   "Content-Type": "application/json"})
    assert answer.status_code == status


@pytest.mark.parametrize("path", ["/v1/batch", "/batch/", "/e/", "/i/v0/e/", "/flags/",
                                  "/api/telemetry/batch"])
def test_cors_covers_the_compatible_paths(client, path):
    preflight = client.options(path, headers={
        "Origin": "http://127.0.0.1:9", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert preflight.headers.get("Access-Control-Allow-Origin") in ("*", "http://127.0.0.1:9")


def test_cors_leaves_the_console_alone(client):
    answer = client.get("/console/login", headers={"Origin": "http://127.0.0.1:9"})
    assert "Access-Control-Allow-Origin" not in answer.headers


def test_keys_the_store_refuses_are_escaped_and_the_rest_kept_as_sent(app, store):
    from app.schemas.storable import escaped

    props = {"$current_url": "u", "a.b": {"$set": [{"c.d.e": 1}]}, "plain": "$x.y"}
    assert escaped(props) == {"\uff04current_url": "u",
                              "a\uff0eb": {"\uff04set": [{"c\uff0ed\uff0ee": 1}]},
                              "plain": "$x.y"}
    plain = message(eventData={"n": 1}, metadata={"context": {"ip": "1.2"}})
    escaping = message(eventData=props, metadata={"context": {"$lib": "x"}})
    nul = message(eventData={"a\x00": 1})
    answer = send(app, store, [plain, escaping, nul])
    assert (answer["accepted"], answer["rejected"]) == (2, 1)
    stored = store.get_queue_item(APP, escaping["eventId"])["itemData"]
    assert stored["eventData"] == escaped(props)
    assert stored["metadata"]["context"] == {"\uff04lib": "x"}
    kept = store.get_queue_item(APP, plain["eventId"])["itemData"]
    assert kept["eventData"] == {"n": 1} and kept["metadata"]["context"] == {"ip": "1.2"}
