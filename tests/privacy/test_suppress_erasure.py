"""End to end with the erasure (SPEC §12): a person erased with suppress=true is answered
`duplicate` for a resend of what was erased (an SDK retrying its old batch) and `suppressed` for
anything new, on every ingest path, and nothing of theirs is stored again; lifting the
suppression lets new items in, while erased ids stay duplicates."""

import base64
import json
import uuid

from app.privacy import erasure
from tests.sync.helpers import sync

APP = "testapp"


def events(*ids):
    return [{"itemType": "event", "eventId": event_id, "eventType": "opened",
             "eventData": {"n": n}, "metadata": {"clientTimestamp": "2026-11-28T10:00:00Z"}}
            for n, event_id in enumerate(ids)]


def send(client, auth, batch_id, items, user_id="gone"):
    answer = client.post("/api/telemetry/batch", headers=auth,
                         json={"batchId": batch_id, "userId": user_id, "items": items})
    assert answer.status_code == 202, answer.get_json()
    return [r["status"] for r in answer.get_json()["results"]]


def test_after_erasure_with_suppression_old_data_is_duplicate_and_new_data_suppressed(
        app, client, store, auth, api_key):
    old = events("e1", "e2")
    assert send(client, auth, "b-old", old) == ["accepted", "accepted"]
    assert send(client, auth, "b-other", events("o1"), user_id="stays") == ["accepted"]
    sync(app, store)

    erased = client.delete("/api/telemetry/people", query_string={"userId": "gone",
                                                                   "suppress": "true"},
                           headers=auth)
    assert erased.status_code == 202, erased.get_json()
    erasure.run_deletions(store, app.config)
    assert store.existing_items(APP, ["e1", "e2"]) == {}

    # The SDK retrying its old batch: the first answer is gone with the log, and it is erased
    # data coming back: duplicate, stored nowhere.
    assert send(client, auth, "b-old", old) == ["duplicate", "duplicate"]
    # The same events in another batch: their ids are erased.
    assert send(client, auth, "b-again", old) == ["duplicate", "duplicate"]
    # Anything new of the person's: suppressed, on every path.
    assert send(client, auth, "b-new", events("e3")) == ["suppressed"]
    track = client.post("/api/telemetry/track", headers=auth, json={
        "eventId": "e4", "userId": "gone", "eventType": "opened", "eventData": {}})
    assert track.get_json() == {"eventId": "e4", "status": "suppressed"}
    segment = client.post("/v1/track", headers={"Authorization": "Basic " + base64.b64encode(
        f"{api_key('ingest', APP)}:".encode()).decode()}, content_type="application/json",
        data=json.dumps({"userId": "gone", "event": "opened", "messageId": "e5"}))
    assert segment.get_json() == {"success": True}
    e6 = str(uuid.uuid4())
    posthog = client.post("/batch/", content_type="application/json", data=json.dumps({
        "api_key": api_key("ingest", APP), "batch": [
            {"event": "opened", "distinct_id": "gone", "uuid": e6}]}))
    assert posthog.status_code == 200
    assert store.existing_items(APP, ["e1", "e2", "e3", "e4", "e5", e6]) == {}
    assert send(client, auth, "b-fine", events("o2"), user_id="stays") == ["accepted"]

    lifted = client.delete("/api/telemetry/suppressions", query_string={"userId": "gone"},
                           headers=auth)
    assert lifted.get_json() == {"userId": "gone", "lifted": True}
    assert send(client, auth, "b-back", events("e1", "e7")) == ["duplicate", "accepted"]


def test_a_resend_of_another_persons_batch_that_held_erased_items_is_answered_not_refused(
        app, client, store, auth):
    # One batch of "stays", with an item of "gone" in it: the erasure takes that item out of
    # the batch's log (keeping its counts), and the batchId is not erased (not gone's batch).
    mixed = [dict(events("g1")[0], userId="gone"), *events("s1")]
    first = send(client, auth, "b-mixed", mixed, user_id="stays")
    assert first == ["accepted", "accepted"]
    sync(app, store)
    erased = client.delete("/api/telemetry/people/gone", headers=auth)
    assert erased.status_code == 202, erased.get_json()
    erasure.run_deletions(store, app.config)
    assert store.existing_items(APP, ["g1"]) == {}
    # An answer lost, the SDK resends the batch: no 409 for a log an erasure shortened.
    assert send(client, auth, "b-mixed", mixed, user_id="stays") == ["duplicate", "accepted"]
    assert store.existing_items(APP, ["g1"]) == {}
