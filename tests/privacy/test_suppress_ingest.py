"""Suppressed people and erased ids at ingest, on every path and both stores (SPEC §12).

A suppressed person's items (by userId, anonymousId, or an alias's previousId) answer
`suppressed` and nothing of them is stored, not even their id in a batch log; other people's
items in the same batch are taken. An erased (tombstoned) eventId, itemId or batchId answers
`duplicate` and is not stored again. Suppressions and tombstones are arranged through the port
(the erasure writes them the same way).
"""

import base64
import json
import uuid
from datetime import timedelta

import pytest

from app.accounts.privacy import BATCH, EVENT, ITEM, id_hashes, person_hash
from app.store.common import utcnow
from tests.api.helpers import batch, event_item, record_item

APP = "testapp"


def suppress(app, store, user_id, app_id=APP):
    store.add_suppression(app_id, person_hash(app.config, app_id, user_id), utcnow())


def tombstone(app, store, kind, *values, app_id=APP):
    store.add_tombstones(app_id, kind, id_hashes(app.config, kind, app_id, values).values(),
                         utcnow())


def send(client, auth, body):
    answer = client.post("/api/telemetry/batch", json=body, headers=auth)
    assert answer.status_code == 202, answer.get_json()
    return answer.get_json()


def statuses(answer):
    return [r["status"] for r in answer["results"]]


def tracked(user_id="u1", **fields):
    """A /track body: an event of its own, naming its person."""
    body = {k: v for k, v in event_item().items() if k != "itemType"}
    return dict(body, userId=user_id, **fields)


def stored_ids(store, ids, app_id=APP):
    return set(store.existing_items(app_id, list(ids)))


def logs_naming(store, user_id):
    """Batch logs of the last day that keep this userId."""
    logs = store.batch_page(utcnow() - timedelta(days=1), limit=1000)
    return [log for log in logs if log.get("userId") == user_id]


# --- the native single endpoints -------------------------------------------------------------


def test_track_of_a_suppressed_person_answers_suppressed_and_stores_nothing(
        app, client, store, auth):
    suppress(app, store, "gone")
    body = tracked("gone")
    answer = client.post("/api/telemetry/track", json=body, headers=auth)
    assert answer.status_code == 202
    assert answer.get_json() == {"eventId": body["eventId"], "status": "suppressed"}
    assert stored_ids(store, [body["eventId"]]) == set()
    assert store.queue_counts(app_id=APP, user_id="gone") == {}
    # Another person is taken as ever.
    answer = client.post("/api/telemetry/track", json=tracked("kept"), headers=auth)
    assert answer.get_json()["status"] == "accepted"


VERB_BODIES = {
    "identify": {"userId": "new-user", "anonymousId": "gone", "traits": {"plan": "pro"}},
    "alias": {"userId": "new-user", "previousId": "gone"},
    "group": {"userId": "gone", "groupId": "acme", "traits": {"name": "Acme"}},
    "page": {"anonymousId": "gone", "name": "Pricing"},
    "screen": {"userId": "gone", "name": "Settings"},
}


@pytest.mark.parametrize("verb", sorted(VERB_BODIES))
def test_each_verb_naming_a_suppressed_person_answers_suppressed(
        app, client, store, auth, verb):
    suppress(app, store, "gone")
    body = dict(VERB_BODIES[verb], eventId=str(uuid.uuid4()))
    answer = client.post(f"/api/telemetry/{verb}", json=body, headers=auth)
    assert answer.status_code == 202, answer.get_json()
    assert answer.get_json() == {"eventId": body["eventId"], "status": "suppressed"}
    assert stored_ids(store, [body["eventId"]]) == set()


# --- the batch endpoint ----------------------------------------------------------------------


def test_a_mixed_batch_takes_the_others_and_answers_the_suppressed_persons_items(
        app, client, store, auth):
    suppress(app, store, "gone")
    theirs = [event_item(), event_item(), record_item(str(uuid.uuid4()))]
    others = [dict(event_item(), userId="kept"),
              dict(event_item(), userId="kept-2", anonymousId="visitor-1")]
    # Names the suppressed person only as its anonymousId.
    visitor = dict(event_item(), userId="someone-else", anonymousId="gone")
    items = [theirs[0], others[0], theirs[1], others[1], theirs[2], visitor]
    body = batch(items, user_id="gone")
    answer = send(client, auth, body)
    assert statuses(answer) == ["suppressed", "accepted", "suppressed", "accepted", "suppressed",
                                "suppressed"]
    assert (answer["accepted"], answer["duplicates"], answer["rejected"],
            answer["suppressed"]) == (2, 0, 0, 4)
    ids = [i.get("eventId") or i.get("itemId") for i in body["items"]]
    assert stored_ids(store, ids) == {ids[1], ids[3]}

    log = client.get(f"/api/telemetry/batch/{body['batchId']}", headers=auth).get_json()
    assert (log["status"], log["itemCount"], log["successCount"], log["failureCount"],
            log["suppressedCount"]) == ("success", 6, 2, 0, 4)
    assert log["errors"] == []
    # The batch's own userId was the suppressed person's: the log does not keep it.
    assert log["userId"] is None
    assert logs_naming(store, "gone") == []
    # Resent, the batch is answered as the first time and stores nothing more.
    assert send(client, auth, body) == answer
    assert stored_ids(store, ids) == {ids[1], ids[3]}


def test_a_batch_of_only_suppressed_items_is_no_error(app, client, store, auth):
    suppress(app, store, "gone")
    body = batch([event_item() for _ in range(3)], user_id="gone")
    answer = send(client, auth, body)
    assert statuses(answer) == ["suppressed"] * 3
    log = store.get_batch_log(APP, body["batchId"])
    assert (log["status"], log["rejectedCount"], log["failureCount"]) == ("success", 0, 0)
    errors = store.batch_page(utcnow() - timedelta(days=1), statuses=["partial", "error"])
    assert errors == []


def test_a_suppression_in_another_app_changes_nothing_here(app, client, store, auth):
    suppress(app, store, "gone", app_id="another-app")
    answer = send(client, auth, batch([event_item()], user_id="gone"))
    assert statuses(answer) == ["accepted"]


# --- the compatible protocols ----------------------------------------------------------------


def basic(key):
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


def test_segment_answers_success_and_logs_the_suppressed_messages(
        app, client, store, api_key):
    key = api_key("ingest", APP)
    suppress(app, store, "gone")
    gone = {"type": "track", "event": "Lesson Viewed", "userId": "gone",
            "messageId": f"m-{uuid.uuid4().hex}", "properties": {"lesson": 3}}
    kept = dict(gone, userId="kept", messageId=f"m-{uuid.uuid4().hex}")
    alias = {"type": "alias", "userId": "new-user", "previousId": "gone",
             "messageId": f"m-{uuid.uuid4().hex}"}
    answer = client.post("/v1/batch", data=json.dumps({"batch": [gone, kept, alias]}),
                         content_type="application/json", headers={"Authorization": basic(key)})
    assert answer.status_code == 200
    assert answer.get_json() == {"success": True}
    ids = [gone["messageId"], kept["messageId"], alias["messageId"]]
    assert stored_ids(store, ids) == {kept["messageId"]}
    [log] = store.batch_page(utcnow() - timedelta(days=1), source="segment", limit=10)
    full = store.get_batch_log(APP, log["batchId"])
    assert [r["status"] for r in full["results"]] == ["suppressed", "accepted", "suppressed"]
    assert (full["status"], full["rejectedCount"]) == ("success", 0)


def test_posthog_answers_200_even_when_every_message_is_suppressed(
        app, client, store, api_key):
    key = api_key("ingest", APP)
    suppress(app, store, "gone")
    messages = [{"event": "lesson_done", "distinct_id": "gone", "uuid": str(uuid.uuid4()),
                 "properties": {"i": n}} for n in range(2)]
    answer = client.post("/batch/", data=json.dumps({"api_key": key, "batch": messages}),
                         content_type="application/json")
    assert answer.status_code == 200, answer.get_json()
    assert (answer.get_json()["accepted"], answer.get_json()["suppressed"]) == (0, 2)
    assert stored_ids(store, [m["uuid"] for m in messages]) == set()
    [log] = store.batch_page(utcnow() - timedelta(days=1), source="posthog", limit=10)
    assert store.get_batch_log(APP, log["batchId"])["status"] == "success"


# --- erased ids ------------------------------------------------------------------------------


def test_an_erased_event_id_answers_duplicate_and_is_not_stored_again(app, client, store, auth):
    erased, fresh = event_item(), event_item()
    tombstone(app, store, EVENT, erased["eventId"])
    answer = send(client, auth, batch([erased, fresh]))
    assert statuses(answer) == ["duplicate", "accepted"]
    assert stored_ids(store, [erased["eventId"], fresh["eventId"]]) == {fresh["eventId"]}
    single = tracked()
    tombstone(app, store, EVENT, single["eventId"])
    answer = client.post("/api/telemetry/track", json=single, headers=auth)
    assert answer.get_json() == {"eventId": single["eventId"], "status": "duplicate"}
    assert stored_ids(store, [single["eventId"]]) == set()


def test_an_erased_record_item_id_answers_duplicate(app, client, store, auth):
    erased = record_item(str(uuid.uuid4()))
    tombstone(app, store, ITEM, erased["itemId"])
    answer = send(client, auth, batch([erased]))
    assert statuses(answer) == ["duplicate"]
    assert stored_ids(store, [erased["itemId"]]) == set()


def test_an_erased_batch_id_answers_every_item_duplicate_even_with_its_log_left(
        app, client, store, auth):
    body = batch([event_item(), event_item()])
    assert statuses(send(client, auth, body)) == ["accepted", "accepted"]
    tombstone(app, store, BATCH, body["batchId"])
    # A resend with other items under that batchId (its log no longer matches them: erasure
    # scrubs a log's per-item results) is still no 409: it is erased data coming back.
    again = dict(body, items=body["items"] + [event_item()])
    answer = send(client, auth, again)
    assert statuses(answer) == ["duplicate"] * 3
    assert stored_ids(store, [again["items"][2]["eventId"]]) == set()


def test_an_erased_id_wins_over_a_suppressed_person(app, client, store, auth):
    old, new = event_item(), event_item()
    tombstone(app, store, EVENT, old["eventId"])
    suppress(app, store, "gone")
    answer = send(client, auth, batch([old, new], user_id="gone"))
    assert statuses(answer) == ["duplicate", "suppressed"]


# --- lifting ---------------------------------------------------------------------------------


def test_an_admin_lifts_a_suppression_and_the_person_is_taken_again(
        app, client, store, auth, api_key):
    user_id = "a person/with a slash ünd spaces"
    suppress(app, store, user_id)
    seen = client.get("/api/telemetry/suppressions", query_string={"userId": user_id},
                      headers=auth)
    assert seen.status_code == 200
    assert seen.get_json()["suppressed"] is True and seen.get_json()["since"]
    assert statuses(send(client, auth, batch([event_item()], user_id=user_id))) == [
        "suppressed"]

    reader = {"Authorization": f"Bearer {api_key('ingest,read')}"}
    refused = client.delete("/api/telemetry/suppressions", query_string={"userId": user_id},
                            headers=reader)
    assert refused.status_code == 403
    lifted = client.delete("/api/telemetry/suppressions", query_string={"userId": user_id},
                           headers=auth)
    assert lifted.status_code == 200
    assert lifted.get_json() == {"userId": user_id, "lifted": True}
    assert statuses(send(client, auth, batch([event_item()], user_id=user_id))) == ["accepted"]
    again = client.delete("/api/telemetry/suppressions", query_string={"userId": user_id},
                          headers=auth)
    assert again.get_json() == {"userId": user_id, "lifted": False}
    seen = client.get("/api/telemetry/suppressions", query_string={"userId": user_id},
                      headers=auth).get_json()
    assert (seen["suppressed"], seen["since"]) == (False, None)

    # Audited with the hash of the id, never the id.
    entries = [e for e in store.list_audit(limit=50) if e["action"] == "person.unsuppress"]
    assert len(entries) == 2
    subject = person_hash(app.config, APP, user_id)
    assert all(e["target"] == f"person:{subject}" for e in entries)
    assert user_id not in json.dumps([e["details"] for e in entries] + [
        e["target"] for e in entries], ensure_ascii=False)


def test_the_suppressions_api_refuses_a_missing_user_id(client, auth):
    answer = client.delete("/api/telemetry/suppressions", headers=auth)
    assert answer.status_code in (400, 422)
    assert "userId" in json.dumps(answer.get_json())


def test_the_cli_lifts_a_suppression(app, store):
    suppress(app, store, "gone")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["people", "unsuppress", "gone", "--app", APP])
    assert result.exit_code == 0, result.output
    assert "Lifted" in result.output
    assert store.suppression_count(APP) == 0
    result = runner.invoke(args=["people", "unsuppress", "gone", "--app", APP])
    assert result.exit_code == 0 and "nothing changed" in result.output
    [entry, _first] = [e for e in store.list_audit(limit=50)
                       if e["action"] == "person.unsuppress"]
    assert entry["actor"] == "cli"


# --- what it costs an app that never erased anyone -------------------------------------------


def test_an_app_with_no_suppression_or_tombstone_looks_nothing_up(
        app, client, store, auth, monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("looked up without any suppression or tombstone in the app")

    # Marks in another app do not count.
    suppress(app, store, "gone", app_id="another-app")
    tombstone(app, store, EVENT, "e1", app_id="another-app")
    monkeypatch.setattr(store, "suppressed_among", never)
    monkeypatch.setattr(store, "tombstoned_among", never)
    answer = send(client, auth, batch([event_item(), event_item("e1")], user_id="gone"))
    assert statuses(answer) == ["accepted", "accepted"]


def test_one_look_up_of_each_kind_per_batch(app, client, store, auth, monkeypatch):
    suppress(app, store, "gone")
    tombstone(app, store, EVENT, "erased-1")
    calls = {"suppressed_among": 0, "tombstoned_among": 0}
    for name in calls:
        real = getattr(store, name)

        def counted(*args, _real=real, _name=name, **kwargs):
            calls[_name] += 1
            return _real(*args, **kwargs)

        monkeypatch.setattr(store, name, counted)
    items = [dict(event_item(), userId=f"user-{n}") for n in range(30)]
    items += [record_item(str(uuid.uuid4())), event_item("erased-1")]
    answer = send(client, auth, batch(items, user_id="gone"))
    assert statuses(answer)[-2:] == ["suppressed", "duplicate"]
    assert calls == {"suppressed_among": 1, "tombstoned_among": 1}
