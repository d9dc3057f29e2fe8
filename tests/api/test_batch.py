"""POST /api/telemetry/batch and GET /api/telemetry/batch/<batchId> through the real app."""

import gzip
import json

import pytest

from tests.stored import put_in_state

from .helpers import batch, event_item, record_item

URL = "/api/telemetry/batch"


def test_valid_items_are_kept_when_others_are_rejected(client, auth, store):
    body = batch([event_item("e1"), event_item("e2", score=500), record_item("r1")],
                 batch_id="b1")
    response = client.post(URL, json=body, headers=auth)
    assert response.status_code == 202
    answer = response.json
    assert (answer["accepted"], answer["duplicates"], answer["rejected"]) == (2, 0, 1)
    assert [r["status"] for r in answer["results"]] == ["accepted", "rejected", "accepted"]
    assert answer["results"][1]["fields"]["eventData"]["score"]
    assert answer["results"][1]["itemId"] == "e2"
    assert answer["statusUrl"] == "/api/telemetry/batch/b1"
    assert store.queue_counts(app_id="testapp") == {"pending": 2}
    record = store.get_queue_item("testapp", "r1")
    assert record["itemType"] == "user_settings"
    assert record["itemData"]["baseVersion"] == 0


def test_resending_a_batch_answers_the_same_and_stores_nothing_twice(client, auth, store):
    body = batch([event_item("e1"), event_item("e2"), event_item("bad", score=-1)])
    first = client.post(URL, json=body, headers=auth)
    second = client.post(URL, json=body, headers=auth)
    assert first.status_code == second.status_code == 202
    assert first.json == second.json
    assert store.queue_counts(app_id="testapp") == {"pending": 2}


def test_events_sent_again_in_another_batch_are_duplicates(client, auth, store):
    client.post(URL, json=batch([event_item("e1")]), headers=auth)
    response = client.post(URL, json=batch([event_item("e1"), event_item("e2")]), headers=auth)
    assert [r["status"] for r in response.json["results"]] == ["duplicate", "accepted"]
    assert response.json["duplicates"] == 1
    assert store.queue_counts(app_id="testapp") == {"pending": 2}


def test_a_batch_id_reused_for_other_items_is_refused(client, auth, store):
    client.post(URL, json=batch([event_item("e1")], batch_id="b1"), headers=auth)
    response = client.post(URL, json=batch([event_item("e2")], batch_id="b1"), headers=auth)
    assert response.status_code == 409
    assert response.json["error"] == "batch_id_reused"
    assert store.get_queue_item("testapp", "e2") is None


def test_a_stored_batch_id_does_not_make_invalid_items_an_answer(client, auth, store):
    """Items without ids under a batchId already stored, all of them invalid now, are refused
    with each reason, not answered with the stored batch's results."""
    item = event_item()
    del item["eventId"]
    first = client.post(URL, json=batch([item], batch_id="b-kept"), headers=auth)
    assert first.status_code == 202
    bad = dict(item, groupId="0")
    response = client.post(URL, json=batch([bad], batch_id="b-kept"), headers=auth)
    assert response.status_code == 400
    assert response.json["fields"]["items"]["0"]["groupId"] == ["Unknown field."]
    assert store.queue_counts(app_id="testapp") == {"pending": 1}
    shown = client.get("/api/telemetry/batch/b-kept", headers=auth).json
    assert shown["itemCount"] == 1 and shown["successCount"] == 1


def test_items_without_event_id_get_one_that_survives_a_resend(client, auth, store):
    item = event_item()
    del item["eventId"]
    body = batch([item, dict(item)], batch_id="b-derived")
    first = client.post(URL, json=body, headers=auth).json
    second = client.post(URL, json=body, headers=auth).json
    assert first == second
    ids = [r["itemId"] for r in first["results"]]
    assert len(set(ids)) == 2
    assert store.queue_counts(app_id="testapp") == {"pending": 2}


def test_batch_status_shows_each_items_outcome_and_queue_state(client, auth):
    body = batch([event_item("e1"), event_item("e2", score=101)], batch_id="b7")
    client.post(URL, json=body, headers=auth)
    response = client.get("/api/telemetry/batch/b7", headers=auth)
    assert response.status_code == 200
    log = response.json
    assert log["source"] == "client"
    assert (log["itemCount"], log["successCount"], log["rejectedCount"]) == (2, 1, 1)
    assert log["status"] == "partial"
    assert log["results"][0]["syncStatus"] == "pending"
    assert log["results"][1]["status"] == "rejected"
    assert "score" in log["results"][1]["fields"]["eventData"]
    assert client.get("/api/telemetry/batch/nope", headers=auth).status_code == 404


def test_one_app_never_sees_another_apps_batch(client, auth, api_key):
    client.post(URL, json=batch([event_item("e1")], batch_id="b1"), headers=auth)
    other = {"Authorization": f"Bearer {api_key('ingest,read', app_name='otherapp')}"}
    assert client.get("/api/telemetry/batch/b1", headers=other).status_code == 404
    # The same ids are free in the other app.
    response = client.post(URL, json=batch([event_item("e1")], batch_id="b1"), headers=other)
    assert response.json["accepted"] == 1


def test_sent_at_corrects_the_clients_clock(client, auth, store):
    item = event_item("e1")
    item["metadata"]["clientTimestamp"] = "2030-01-01T10:00:00Z"
    # The client's clock is ahead: it sent at 10:00:05 by its clock, 5 s after the event.
    body = batch([item], sentAt="2030-01-01T10:00:05Z")
    client.post(URL, json=body, headers=auth)
    meta = store.get_queue_item("testapp", "e1")["meta"]
    from datetime import datetime, timedelta

    received = datetime.fromisoformat(meta["receivedAt"])
    assert abs(datetime.fromisoformat(meta["timestamp"]) - (received - timedelta(seconds=5))) \
        < timedelta(milliseconds=1)
    assert meta["skewMs"] > 0
    assert store.get_queue_item("testapp", "e1")["itemData"]["metadata"]["clientTimestamp"] \
        == "2030-01-01T10:00:00Z"


def test_times_far_in_the_future_are_clamped(client, auth, store):
    item = event_item("e1")
    item["metadata"]["clientTimestamp"] = "2099-01-01T00:00:00Z"
    client.post(URL, json=batch([item]), headers=auth)
    meta = store.get_queue_item("testapp", "e1")["meta"]
    assert meta["timestamp"] == meta["receivedAt"]
    assert meta["clamped"] is True


@pytest.mark.parametrize("item, field", [
    ({"itemType": "event", "eventId": "e1"}, "eventType"),
    ({"itemType": "event", "eventId": "e1", "eventType": "interview_completed",
      "eventData": {"score": 50}}, "eventData"),
    ({"itemType": "event", "eventId": "e1", "eventType": "x", "eventData": {"$where": 1}},
     "eventData.$where"),
    ({"itemType": "event", "eventId": "e1", "eventType": "x", "eventData": {"a": {"b.c": 1}}},
     "eventData.a.b.c"),
    ({"itemType": "event", "eventId": "e 1", "eventType": "x"}, "eventId"),
    ({"itemType": "event", "eventId": "e1", "eventType": "x", "colour": "red"}, "colour"),
    ({"itemType": "event", "eventId": "e1", "eventType": "x",
      "metadata": {"clientTimestamp": "yesterday"}}, "metadata.clientTimestamp"),
    ({"itemType": "user_settings", "itemId": "r1", "recordId": "s1", "data": {}},
     "baseVersion"),
    ({"itemType": "user_settings", "itemId": "r1", "recordId": "s1", "baseVersion": 0,
      "data": {}, "conflictResolution": "coin_toss"}, "conflictResolution"),
    ("not an object", "_item"),
])
def test_invalid_items_are_rejected_by_field(client, auth, store, item, field):
    body = batch([item, event_item("ok")])
    response = client.post(URL, json=body, headers=auth)
    assert response.status_code == 202
    rejected = response.json["results"][0]
    assert rejected["status"] == "rejected"
    assert field in rejected["fields"]
    assert store.queue_counts(app_id="testapp") == {"pending": 1}


def test_a_batch_with_no_valid_item_is_refused_whole(client, auth, store):
    response = client.post(URL, json=batch([event_item("e1", score=-5)]), headers=auth)
    assert response.status_code == 400
    assert response.json["error"] == "validation_error"
    assert "score" in response.json["fields"]["items"]["0"]["eventData"]
    assert store.queue_counts() == {}


def test_oversized_item_is_rejected(client, auth, store):
    big = event_item("big", event_type="note", text="x" * 40_000)
    response = client.post(URL, json=batch([big, event_item("ok")]), headers=auth)
    assert response.json["results"][0]["status"] == "rejected"
    assert "32768" in response.json["results"][0]["fields"]["_item"][0]


def test_too_many_items_answers_413(client, auth, store, app):
    app.config["MAX_BATCH_ITEMS"] = 3
    response = client.post(URL, json=batch([event_item() for _ in range(4)]), headers=auth)
    assert response.status_code == 413
    assert response.json["error"] == "too_many_items"
    assert store.queue_counts() == {}


@pytest.mark.parametrize("body, headers, status, code", [
    (b"{not json", {"Content-Type": "application/json"}, 400, "invalid_json"),
    (b"[" * 100_000, {"Content-Type": "application/json"}, 400, "invalid_json"),
    (b'{"batchId": "b1", "items": []}', {"Content-Type": "text/plain"}, 415,
     "unsupported_media_type"),
    (b'{"items": [1]}', {"Content-Type": "application/json"}, 400, "validation_error"),
    (b'{"batchId": "b1", "items": []}', {"Content-Type": "application/json"}, 400,
     "validation_error"),
    (b'{"batchId": "b1", "items": {}}', {"Content-Type": "application/json"}, 400,
     "validation_error"),
    (b'{"batchId": "b1", "items": [], "extra": 1}', {"Content-Type": "application/json"}, 400,
     "validation_error"),
    (b"x", {"Content-Type": "application/json", "Content-Encoding": "br"}, 415,
     "unsupported_encoding"),
    (b"not gzip", {"Content-Type": "application/json", "Content-Encoding": "gzip"}, 400,
     "invalid_gzip"),
])
def test_bad_bodies_get_a_clear_4xx_and_change_nothing(client, auth, store, body, headers,
                                                        status, code):
    response = client.post(URL, data=body, headers={**auth, **headers})
    assert response.status_code == status
    assert response.json["error"] == code
    assert response.json["message"]
    assert store.queue_counts() == {}


def _event_body(data_json):
    return ('{"batchId": "b1", "userId": "u1", "items": [{"eventId": "e1", '
            f'"eventType": "custom", "eventData": {{"n": {data_json}}}}}, '
            '{"eventId": "ok", "eventType": "custom"}]}').encode()


@pytest.mark.parametrize("value, named", [
    ("NaN", "line 1"),
    ("-Infinity", "line 1"),
    ('"\\ud800"', "surrogate"),  # a lone surrogate, which no store can hold
])
def test_text_that_is_not_json_is_refused_whole(client, auth, store, value, named):
    response = client.post(URL, data=_event_body(value),
                           headers={**auth, "Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json["error"] == "invalid_json"
    assert named in response.json["message"]
    assert store.queue_counts() == {}


@pytest.mark.parametrize("value", ["123456789012345678901234567890", "9223372036854775808",
                                   "-9223372036854775809", "[1, {\"deep\": 18446744073709551616}]"])
def test_an_item_holding_an_integer_past_64_bits_is_rejected_not_rounded(client, auth, store,
                                                                        value):
    response = client.post(URL, data=_event_body(value),
                           headers={**auth, "Content-Type": "application/json"})
    assert response.status_code == 202
    first, second = response.json["results"]
    assert first["status"] == "rejected" and "64-bit" in first["fields"]["_item"][0]
    assert second["status"] == "accepted"
    assert store.get_queue_item("testapp", "e1") is None


@pytest.mark.parametrize("value", ["9223372036854775807", "-9223372036854775808",
                                   "1234567890123456789.5", '"id-12345678901234567890"',
                                   '"h\u00e9llo \u2603"', "0.1"])
def test_values_at_the_edges_are_stored_exactly(client, auth, store, value):
    response = client.post(URL, data=_event_body(value),
                           headers={**auth, "Content-Type": "application/json"})
    assert response.status_code == 202
    stored = store.get_queue_item("testapp", "e1")["itemData"]
    assert stored["eventData"]["n"] == json.loads(value)


def test_gzip_bodies_are_accepted(client, auth, store):
    body = gzip.compress(json.dumps(batch([event_item("e1")])).encode())
    response = client.post(URL, data=body, headers={
        **auth, "Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert response.status_code == 202
    assert response.json["accepted"] == 1


def test_gzip_that_inflates_past_the_limit_answers_413(client, auth, store, app):
    limit = app.config["MAX_CONTENT_LENGTH"]
    payload = json.dumps(batch([event_item("e1", event_type="x", pad=" " * (limit + 10))]))
    body = gzip.compress(payload.encode())
    assert len(body) < limit
    response = client.post(URL, data=body, headers={
        **auth, "Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert response.status_code == 413
    assert response.json["error"] == "payload_too_large"
    assert store.queue_counts() == {}


def test_body_over_the_limit_answers_413(client, auth, store, app):
    limit = app.config["MAX_CONTENT_LENGTH"]
    body = json.dumps(batch([event_item("e1", event_type="x", pad="y" * limit)]))
    response = client.post(URL, data=body, headers={**auth, "Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json["error"] == "payload_too_large"
    assert store.queue_counts() == {}


def test_a_full_backlog_answers_429_and_stores_nothing(client, auth, store, app):
    app.config["SYNC_MAX_QUEUE"] = 3
    client.post(URL, json=batch([event_item() for _ in range(2)]), headers=auth)
    response = client.post(URL, json=batch([event_item() for _ in range(2)]), headers=auth)
    assert response.status_code == 429
    assert response.json["error"] == "backlog_full"
    assert int(response.headers["Retry-After"]) > 0
    assert store.queue_counts() == {"pending": 2}
    # Another user's items still go in.
    other = client.post(URL, json=batch([event_item()], user_id="u2"), headers=auth)
    assert other.status_code == 202


def test_failed_and_processing_items_count_toward_the_backlog(client, auth, store, app):
    app.config["SYNC_MAX_QUEUE"] = 3
    client.post(URL, json=batch([event_item("a"), event_item("b")]), headers=auth)
    put_in_state(store, "a", "failed")
    put_in_state(store, "b", "processing")
    response = client.post(URL, json=batch([event_item() for _ in range(2)]), headers=auth)
    assert response.status_code == 429
    assert store.queue_counts() == {"failed": 1, "processing": 1}


def test_strict_event_types_refuses_unknown_types(client, auth, app):
    app.config["STRICT_EVENT_TYPES"] = True
    response = client.post(URL, json=batch([event_item(event_type="made_up", a=1),
                                            event_item("ok")]), headers=auth)
    assert response.json["results"][0]["fields"]["eventType"]
    app.config["STRICT_EVENT_TYPES"] = False
    response = client.post(URL, json=batch([event_item(event_type="made_up", a=1)]),
                           headers=auth)
    assert response.json["accepted"] == 1


@pytest.mark.parametrize("event_type, data, ok", [
    ("interview_completed", {"score": 100, "duration": 0}, True),
    ("interview_completed", {"score": 100.5, "duration": 10}, False),
    ("interview_completed", {"score": 50, "duration": -1}, False),
    ("assessment_submitted", {"score": 70}, True),
    ("assessment_submitted", {"score": "high"}, False),
    ("practice_question_answered", {"questionId": "q1", "correct": True, "timeSpent": 3}, True),
    ("practice_question_answered", {"correct": True}, False),
    ("learning_module_viewed", {"moduleId": "m1", "duration": 5}, True),
    ("weakness_detected", {"skill": "graphs", "severity": "high"}, True),
    ("weakness_detected", {"skill": "graphs", "severity": "extreme"}, False),
    ("mentor_session_started", {"mentorId": "m1"}, True),
    ("mentor_feedback_received", {"rating": 5}, True),
    ("mentor_feedback_received", {"rating": 6}, False),
    ("interview_started", {"interviewId": "i1", "anything": [1, 2]}, True),
])
def test_seed_event_types_are_validated(client, auth, event_type, data, ok):
    response = client.post(URL, json=batch([event_item(event_type=event_type, **data),
                                            event_item("ok")]), headers=auth)
    assert (response.json["results"][0]["status"] == "accepted") is ok


def test_a_clock_wrong_enough_to_overflow_is_clamped_not_an_error(client, auth, store):
    item = event_item("e1")
    item["metadata"]["clientTimestamp"] = "9999-12-31T23:59:59Z"
    response = client.post(URL, json=batch([item], sentAt="0001-01-02T00:00:00Z"), headers=auth)
    assert response.status_code == 202
    meta = store.get_queue_item("testapp", "e1")["meta"]
    assert meta["clamped"] is True and meta["timestamp"] == meta["receivedAt"]


@pytest.mark.parametrize("field, value", [("seq", 2**64), ("baseVersion", 10**30)])
def test_numbers_too_large_to_store_are_rejected(client, auth, store, field, value):
    item = record_item("r1")
    item[field] = value
    response = client.post(URL, json=batch([item, event_item("ok")]), headers=auth)
    assert response.json["results"][0]["status"] == "rejected"
    assert field in response.json["results"][0]["fields"]
