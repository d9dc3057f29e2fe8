"""People over HTTP, on both stores: what identify, alias, group and events make of a person once
synced, read on GET /api/telemetry/people/<userId> (and ?userId=)."""

import uuid

import pytest

from tests.sync.helpers import sync

BATCH = "/api/telemetry/batch"


def at(minute, second=0):
    return f"2026-11-28T10:{minute:02d}:{second:02d}Z"


def stamped(item, minute, second=0):
    """An item with its client time."""
    return {**item, "metadata": {"clientTimestamp": at(minute, second)}}


def ev(event_id, minute, **ids):
    return stamped({"itemType": "event", "eventId": event_id, "eventType": "opened",
                    "eventData": {}, **ids}, minute)


def post(client, auth, items, **envelope):
    # A new batchId each call (an object's id() is reused once it is freed).
    body = {"batchId": envelope.pop("batchId", None) or f"b-{uuid.uuid4().hex}",
            "items": items, **envelope}
    answer = client.post(BATCH, json=body, headers=auth)
    assert answer.status_code == 202, answer.json
    assert answer.json["rejected"] == 0, answer.json
    return answer.json


def person(client, auth, user_id, status=200):
    answer = client.get(f"/api/telemetry/people/{user_id}", headers=auth)
    assert answer.status_code == status, answer.json
    by_query = client.get("/api/telemetry/people", query_string={"userId": user_id},
                          headers=auth)
    assert (by_query.status_code, by_query.json) == (answer.status_code, answer.json)
    return answer.json


def test_an_unknown_person_is_not_found(client, auth, store):
    assert person(client, auth, "nobody", 404)["error"] == "not_found"
    odd = client.get("/api/telemetry/people", query_string={"userId": "a/b c"}, headers=auth)
    assert odd.status_code == 404
    assert client.get("/api/telemetry/people", headers=auth).status_code == 400


def test_traits_last_write_wins_per_trait_by_time_and_traits_once(client, auth, store, app):
    post(client, auth, [
        stamped({"itemType": "identify", "eventId": "i2", "userId": "u1",
                 "traits": {"plan": "pro", "name": "Ada"}}, 5)])
    sync(app, store)
    # Sent and applied later but made earlier: its plan loses, its own trait is kept.
    post(client, auth, [
        stamped({"itemType": "identify", "eventId": "i1", "userId": "u1",
                 "traits": {"plan": "free", "city": "Paris"},
                 "traitsOnce": {"signup": "2026-11-01"}}, 1)])
    sync(app, store)
    post(client, auth, [stamped({"itemType": "identify", "eventId": "i3", "userId": "u1",
                                 "traits": {"name": "Ada L."},
                                 "traitsOnce": {"signup": "later", "plan": "x"}}, 9)])
    sync(app, store)
    profile = person(client, auth, "u1")
    assert profile["traits"] == {"plan": "pro", "name": "Ada L.", "city": "Paris",
                                 "signup": "2026-11-01"}
    assert profile["traitTimes"]["plan"].startswith("2026-11-28T10:05:00")
    assert profile["traitTimes"]["city"].startswith("2026-11-28T10:01:00")
    assert profile["traitTimes"]["name"].startswith("2026-11-28T10:09:00")
    assert profile["eventCount"] == 0
    assert (profile["firstSeen"], profile["lastSeen"]) == (None, None)


def test_events_count_on_their_user_with_first_and_last_seen(client, auth, store, app):
    post(client, auth, [ev("e1", 3), ev("e2", 1), ev("e3", 7)], userId="u1")
    post(client, auth, [ev("e4", 2, userId="u2"), ev("e1", 3)], userId="u1")  # e1: duplicate
    sync(app, store)
    profile = person(client, auth, "u1")
    assert profile["eventCount"] == 3
    assert profile["firstSeen"].startswith("2026-11-28T10:01:00")
    assert profile["lastSeen"].startswith("2026-11-28T10:07:00")
    assert person(client, auth, "u2")["eventCount"] == 1
    # Resent and synced again: still counted once.
    post(client, auth, [ev("e3", 7)], userId="u1", batchId="again")
    sync(app, store)
    assert person(client, auth, "u1")["eventCount"] == 3


@pytest.mark.parametrize("linking", ["alias", "identify"])
def test_the_anonymous_history_belongs_to_the_user_once_linked(client, auth, store, app,
                                                               linking):
    post(client, auth, [ev("a1", 2), ev("a2", 4),
                        stamped({"itemType": "identify", "eventId": "ia",
                                 "traits": {"lang": "fr", "plan": "trial"}}, 3),
                        stamped({"itemType": "group", "eventId": "ga", "groupId": "acme"}, 3),
                        stamped({"itemType": "page", "eventId": "pa", "name": "Pricing"}, 5)],
         anonymousId="anon-1")
    post(client, auth, [ev("u-1", 8), stamped({"itemType": "identify", "eventId": "iu",
                                               "traits": {"plan": "pro"}}, 6)], userId="u1")
    sync(app, store)
    assert person(client, auth, "anon-1", 404)
    link = ({"itemType": "alias", "eventId": "link", "previousId": "anon-1", "userId": "u1"}
            if linking == "alias" else
            {"itemType": "identify", "eventId": "link", "userId": "u1", "anonymousId": "anon-1"})
    post(client, auth, [stamped(link, 9)])
    sync(app, store)
    profile = person(client, auth, "u1")
    assert profile["anonymousIds"] == ["anon-1"]
    assert profile["eventCount"] == 4  # a1, a2, the page view, u-1
    assert profile["firstSeen"].startswith("2026-11-28T10:02:00")
    assert profile["lastSeen"].startswith("2026-11-28T10:08:00")
    assert profile["traits"] == {"lang": "fr", "plan": "pro"}
    assert profile["groups"] == ["acme"]
    # Later events of the visitor count on the user.
    post(client, auth, [ev("a3", 10)], anonymousId="anon-1")
    sync(app, store)
    profile = person(client, auth, "u1")
    assert profile["eventCount"] == 5
    assert profile["lastSeen"].startswith("2026-11-28T10:10:00")
    # The stored events are not rewritten: the visitor's keep their ids.
    stored = store.get_event("testapp", "a1")
    assert (stored["userId"], stored["anonymousId"]) == ("anon-1", "anon-1")
    assert store.get_event("testapp", "u-1")["anonymousId"] is None


def test_an_alias_the_other_way_round_and_a_merge_of_two_profiles(client, auth, store, app):
    post(client, auth, [ev("e1", 1), stamped({"itemType": "identify", "eventId": "i1",
                                              "traits": {"a": 1}}, 1)], userId="old-id")
    post(client, auth, [ev("e2", 2)], anonymousId="visitor")
    sync(app, store)
    # previousId has the profile, userId none: read the other way round.
    post(client, auth, [stamped({"itemType": "alias", "eventId": "al1", "previousId": "old-id",
                                 "userId": "visitor"}, 3)])
    sync(app, store)
    profile = person(client, auth, "old-id")
    assert profile["anonymousIds"] == ["visitor"]
    assert profile["eventCount"] == 2
    person(client, auth, "visitor", 404)
    # Both have profiles: previousId's is merged into userId's and removed.
    post(client, auth, [ev("e3", 4), stamped({"itemType": "identify", "eventId": "i2",
                                              "traits": {"a": 2, "b": 1}}, 0)], userId="new-id")
    sync(app, store)
    post(client, auth, [stamped({"itemType": "alias", "eventId": "al2", "previousId": "old-id",
                                 "userId": "new-id"}, 5)])
    sync(app, store)
    person(client, auth, "old-id", 404)
    merged = person(client, auth, "new-id")
    assert merged["eventCount"] == 3
    assert merged["traits"] == {"a": 1, "b": 1}  # a: old-id's was set later
    assert sorted(merged["anonymousIds"]) == ["old-id", "visitor"]
    assert merged["firstSeen"].startswith("2026-11-28T10:01:00")
    # The merged ids' events now count on the profile they were merged into.
    post(client, auth, [ev("e4", 6)], anonymousId="visitor")
    post(client, auth, [ev("e5", 7)], userId="old-id")
    sync(app, store)
    assert person(client, auth, "new-id")["eventCount"] == 5
    person(client, auth, "old-id", 404)


def test_groups_of_a_user(client, auth, store, app):
    post(client, auth, [stamped({"itemType": "group", "eventId": "g1", "groupId": "acme",
                                 "traits": {"seats": 5}}, 1),
                        stamped({"itemType": "group", "eventId": "g2", "groupId": "globex"}, 2),
                        stamped({"itemType": "group", "eventId": "g3", "groupId": "acme"}, 3)],
         userId="u1")
    sync(app, store)
    assert person(client, auth, "u1")["groups"] == ["acme", "globex"]
    assert store.get_group("testapp", "acme")["traits"] == {"seats": 5}


def test_single_calls_sync_into_the_profile(client, auth, store, app):
    calls = [("identify", {"anonymousId": "v1", "traits": {"x": 1}}),
             ("page", {"anonymousId": "v1", "name": "Home"}),
             ("screen", {"anonymousId": "v1", "name": "Settings"}),
             ("group", {"anonymousId": "v1", "groupId": "g"}),
             ("identify", {"userId": "u9", "anonymousId": "v1", "traits": {"y": 2}})]
    for verb, body in calls:
        answer = client.post(f"/api/telemetry/{verb}", json=body, headers=auth)
        assert answer.status_code == 202
        sync(app, store)
    profile = person(client, auth, "u9")
    assert (profile["traits"], profile["groups"], profile["anonymousIds"],
            profile["eventCount"]) == ({"x": 1, "y": 2}, ["g"], ["v1"], 2)


def test_each_app_has_its_own_people(client, auth, store, app, api_key):
    other = {"Authorization": f"Bearer {api_key('ingest,read', 'other-app')}"}
    post(client, auth, [ev("e1", 1)], userId="u1")
    sync(app, store)
    person(client, other, "u1", 404)
    assert person(client, auth, "u1")["eventCount"] == 1


@pytest.mark.parametrize("app_config", [{"LEGACY_RECORD_TYPE_APPS": "testapp"}])
def test_legacy_apps_edit_records_of_those_types_and_make_no_people(client, auth, store, app,
                                                                    app_config):
    item = {"itemType": "identify", "itemId": "r1", "recordId": "rec-1", "baseVersion": 0,
            "data": {"theme": "dark"}}
    post(client, auth, [item], userId="u1")
    sync(app, store)
    assert store.get_record("testapp", "identify", "rec-1")["data"] == {"theme": "dark"}
    person(client, auth, "u1", 404)
