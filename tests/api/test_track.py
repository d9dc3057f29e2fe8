"""POST /api/telemetry/track through the real app."""

import pytest

URL = "/api/telemetry/track"


def event(**extra):
    body = {"userId": "u1", "eventType": "interview_completed",
            "eventData": {"score": 85, "duration": 1800}}
    body.update(extra)
    return body


def test_an_event_is_accepted_once_and_then_a_duplicate(client, auth, store):
    first = client.post(URL, json=event(eventId="e1"), headers=auth)
    assert first.status_code == 202
    assert first.json == {"eventId": "e1", "status": "accepted"}
    second = client.post(URL, json=event(eventId="e1"), headers=auth)
    assert second.json == {"eventId": "e1", "status": "duplicate"}
    assert store.queue_counts(app_id="testapp") == {"pending": 1}
    item = store.get_queue_item("testapp", "e1")
    assert item["itemType"] == "event"
    assert item["itemData"]["eventData"] == {"score": 85, "duration": 1800}
    assert item["batchId"] is None


def test_without_an_event_id_the_server_makes_a_time_ordered_one(client, auth, store):
    answer = client.post(URL, json=event(), headers=auth).json
    assert answer["status"] == "accepted"
    assert answer["eventId"][14] == "7"  # UUIDv7
    assert store.get_queue_item("testapp", answer["eventId"]) is not None


def test_the_same_event_id_with_another_payload_is_kept_for_a_conflict(client, auth, store):
    client.post(URL, json=event(eventId="e1"), headers=auth)
    changed = event(eventId="e1", eventData={"score": 10, "duration": 5})
    answer = client.post(URL, json=changed, headers=auth).json
    assert answer == {"eventId": "e1", "status": "accepted"}
    assert store.queue_counts(app_id="testapp") == {"pending": 2}


@pytest.mark.parametrize("body, field", [
    ({"eventType": "x"}, "userId"),
    ({"userId": "u1"}, "eventType"),
    ({"userId": "u1", "eventType": "interview_completed", "eventData": {"score": 101,
                                                                       "duration": 1}},
     "eventData"),
    ({"userId": "u1", "eventType": "x", "eventData": {"$set": 1}}, "eventData.$set"),
    ({"userId": "u1", "eventType": "x", "metadata": {"a.b": 1}}, "metadata.a.b"),
    ({"userId": "u1", "eventType": "x", "eventData": []}, "eventData"),
    ({"userId": "u1", "eventType": "x", "sentAt": "soon"}, "sentAt"),
    ({"userId": "u1", "eventType": "x", "priority": 1000}, "priority"),
    ({"userId": "", "eventType": "x"}, "userId"),
])
def test_invalid_events_answer_400_naming_the_field(client, auth, store, body, field):
    response = client.post(URL, json=body, headers=auth)
    assert response.status_code == 400
    assert response.json["error"] == "validation_error"
    assert field in response.json["fields"]
    assert store.queue_counts() == {}
