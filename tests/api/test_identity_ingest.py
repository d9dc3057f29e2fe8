"""The identity verbs on the way in, on both stores: POST identify, alias, group, page and screen,
their batch items, anonymousId on events, and LEGACY_RECORD_TYPE_APPS."""

import pytest

from .helpers import batch, event_item, record_item

BATCH = "/api/telemetry/batch"
TRACK = "/api/telemetry/track"


def url(verb):
    return f"/api/telemetry/{verb}"


def queued(store, item_id):
    item = store.get_queue_item("testapp", item_id)
    assert item is not None, item_id
    return item


# (verb, body, the queue's itemType, its userId, its itemData less eventId and metadata)
CALLS = [
    ("identify", {"userId": "u1", "traits": {"plan": "pro"}, "traitsOnce": {"signup": "x"}},
     "identify", "u1", {"userId": "u1", "anonymousId": None, "traits": {"plan": "pro"},
                        "traitsOnce": {"signup": "x"}}),
    ("identify", {"anonymousId": "a1", "traits": {"lang": "fr"}},
     "identify", "a1", {"userId": None, "anonymousId": "a1", "traits": {"lang": "fr"},
                        "traitsOnce": {}}),
    ("identify", {"userId": "u1", "anonymousId": "a1"},
     "identify", "u1", {"userId": "u1", "anonymousId": "a1", "traits": {}, "traitsOnce": {}}),
    ("alias", {"previousId": "a1", "userId": "u1"},
     "alias", "u1", {"userId": "u1", "previousId": "a1"}),
    ("group", {"anonymousId": "a1", "groupId": "acme", "traits": {"seats": 5}},
     "group", "a1", {"userId": None, "anonymousId": "a1", "groupId": "acme",
                     "traits": {"seats": 5}}),
    ("page", {"userId": "u1", "name": "Home", "category": "docs", "properties": {"path": "/"}},
     "event", "u1", {"eventType": "page_viewed",
                     "eventData": {"path": "/", "name": "Home", "category": "docs"}}),
    ("screen", {"anonymousId": "a1", "properties": {"name": "sent", "x": 1}, "name": "Prefs"},
     "event", "a1", {"eventType": "screen_viewed", "eventData": {"name": "Prefs", "x": 1},
                     "userId": None, "anonymousId": "a1"}),
]


@pytest.mark.parametrize("verb, body, item_type, user_id, data", CALLS,
                         ids=[f"{c[0]}-{n}" for n, c in enumerate(CALLS)])
def test_each_verb_is_queued_once_as_its_item(client, auth, store, verb, body, item_type,
                                              user_id, data):
    sent = {**body, "eventId": "v1", "metadata": {"clientTimestamp": "2026-11-28T10:00:00Z"}}
    first = client.post(url(verb), json=sent, headers=auth)
    assert (first.status_code, first.json) == (202, {"eventId": "v1", "status": "accepted"})
    again = client.post(url(verb), json=sent, headers=auth)
    assert (again.status_code, again.json) == (202, {"eventId": "v1", "status": "duplicate"})
    assert store.queue_counts(app_id="testapp") == {"pending": 1}
    item = queued(store, "v1")
    assert (item["itemType"], item["userId"], item["recordId"]) == (item_type, user_id, None)
    item_data = dict(item["itemData"])
    assert item_data.pop("eventId") == "v1"
    assert item_data.pop("metadata") == {"clientTimestamp": "2026-11-28T10:00:00Z"}
    assert item_data == data
    assert item["meta"]["timestamp"].startswith("2026-11-28T10:00:00")


def test_a_call_without_event_id_gets_one_made_by_the_server(client, auth, store):
    answer = client.post(url("identify"), json={"userId": "u1"}, headers=auth).json
    assert answer["status"] == "accepted"
    assert queued(store, answer["eventId"])["itemType"] == "identify"


@pytest.mark.parametrize("verb, body, field", [
    ("identify", {}, "userId"),
    ("identify", {"traits": {"a": 1}}, "userId"),
    ("identify", {"userId": ""}, "userId"),
    ("identify", {"anonymousId": "x" * 257}, "anonymousId"),
    ("identify", {"userId": "u1", "traits": {"$set": {"a": 1}}}, "traits.$set"),
    ("identify", {"userId": "u1", "traitsOnce": {"a.b": 1}}, "traitsOnce.a.b"),
    ("identify", {"userId": "u1", "traits": []}, "traits"),
    ("identify", {"userId": "u1", "previousId": "a"}, "previousId"),
    ("alias", {"userId": "u1"}, "previousId"),
    ("alias", {"previousId": "a1"}, "userId"),
    ("alias", {"previousId": "", "userId": "u1"}, "previousId"),
    ("alias", {"previousId": "a1", "anonymousId": "a1"}, "userId"),
    ("group", {"userId": "u1"}, "groupId"),
    ("group", {"groupId": "g"}, "userId"),
    ("group", {"userId": "u1", "groupId": "x" * 257}, "groupId"),
    ("group", {"userId": "u1", "groupId": "g", "traits": {"a": {"$b": 1}}}, "traits.a.$b"),
    ("page", {"name": "Home"}, "userId"),
    ("page", {"userId": "u1", "name": "x" * 1001}, "name"),
    ("page", {"userId": "u1", "category": 5}, "category"),
    ("page", {"userId": "u1", "properties": {"a.b": 1}}, "properties.a.b"),
    ("screen", {"userId": "u1", "metadata": {"clientTimestamp": "soon"}},
     "metadata"),
    ("screen", {"userId": "u1", "eventType": "x"}, "eventType"),
    ("screen", {"userId": "u1", "sentAt": "later"}, "sentAt"),
])
def test_bad_calls_answer_400_naming_the_field_and_store_nothing(client, auth, store, verb,
                                                                  body, field):
    response = client.post(url(verb), json=body, headers=auth)
    assert response.status_code == 400, response.json
    assert response.json["error"] == "validation_error"
    assert any(name == field or name.startswith(f"{field}.")
               for name in response.json["fields"]), response.json
    assert store.queue_counts(app_id="testapp") == {}


def test_track_takes_an_anonymous_id_instead_of_a_user_id(client, auth, store):
    body = {"anonymousId": "a1", "eventType": "opened", "eventId": "e1"}
    assert client.post(TRACK, json=body, headers=auth).status_code == 202
    item = queued(store, "e1")
    assert item["userId"] == "a1"
    assert (item["itemData"]["userId"], item["itemData"]["anonymousId"]) == (None, "a1")
    both = {"userId": "u1", "anonymousId": "a1", "eventType": "opened", "eventId": "e2"}
    client.post(TRACK, json=both, headers=auth)
    item = queued(store, "e2")
    assert item["userId"] == "u1"
    assert (item["itemData"]["userId"], item["itemData"]["anonymousId"]) == ("u1", "a1")
    # A plain event keeps its itemData as before: no identity fields.
    client.post(TRACK, json={"userId": "u1", "eventType": "opened", "eventId": "e3"},
                headers=auth)
    assert set(queued(store, "e3")["itemData"]) == {"eventId", "eventType", "eventData",
                                                     "metadata"}
    # The same id given as both is the user's own id.
    same = {"userId": "u1", "anonymousId": "u1", "eventType": "opened", "eventId": "e4"}
    client.post(TRACK, json=same, headers=auth)
    assert "anonymousId" not in queued(store, "e4")["itemData"]
    neither = client.post(TRACK, json={"eventType": "opened"}, headers=auth)
    assert neither.status_code == 400
    assert "userId" in neither.json["fields"]
    bad = client.post(TRACK, json={"anonymousId": "", "eventType": "x"}, headers=auth)
    assert bad.status_code == 400
    assert "anonymousId" in bad.json["fields"]


def verb_items():
    return [
        {"itemType": "identify", "eventId": "i1", "traits": {"plan": "pro"}},
        {"itemType": "alias", "itemId": "al1", "previousId": "a9", "userId": "u2"},
        {"itemType": "group", "eventId": "g1", "groupId": "acme"},
        {"itemType": "page", "eventId": "p1", "name": "Home"},
        {"itemType": "screen", "eventId": "s1", "userId": "u3"},
        {**event_item("e1"), "anonymousId": "a2"},
        {"itemType": "identify", "eventId": "bad", "traits": {"$x": 1}},
    ]


def test_batch_items_of_each_verb_with_the_batch_ids_as_defaults(client, auth, store):
    body = batch(verb_items(), user_id=None, anonymousId="a1")
    del body["userId"]
    answer = client.post(BATCH, json=body, headers=auth).json
    assert [r["status"] for r in answer["results"]] == ["accepted"] * 6 + ["rejected"]
    assert answer["results"][6]["fields"] == {"traits.$x": [
        "Keys may not start with '$' or contain '.'."]}
    kinds = {item_id: (queued(store, item_id)["itemType"], queued(store, item_id)["userId"])
             for item_id in ("i1", "al1", "g1", "p1", "s1", "e1")}
    assert kinds == {"i1": ("identify", "a1"), "al1": ("alias", "u2"), "g1": ("group", "a1"),
                     "p1": ("event", "a1"), "s1": ("event", "u3"), "e1": ("event", "a2")}
    assert queued(store, "s1")["itemData"]["anonymousId"] == "a1"
    assert queued(store, "p1")["itemData"]["eventType"] == "page_viewed"
    # Resent, the same batch answers the same and stores nothing twice.
    assert client.post(BATCH, json=body, headers=auth).json == answer
    assert store.queue_counts(app_id="testapp") == {"pending": 6}
    # The verbs' items sent again in another batch are duplicates, as events are.
    again = batch(verb_items()[:5], anonymousId="a1")
    del again["userId"]
    answer = client.post(BATCH, json=again, headers=auth).json
    assert [r["status"] for r in answer["results"]] == ["duplicate"] * 5


def test_a_verb_item_without_an_id_anywhere_is_rejected(client, auth, store):
    body = batch([{"itemType": "identify", "traits": {}}, event_item("e1"),
                  {**event_item("e2"), "anonymousId": "a1"}])
    del body["userId"]
    answer = client.post(BATCH, json=body, headers=auth).json
    assert [r["status"] for r in answer["results"]] == ["rejected", "rejected", "accepted"]
    assert "userId" in answer["results"][0]["fields"]
    assert "userId" in answer["results"][1]["fields"]
    assert store.queue_counts(app_id="testapp") == {"pending": 1}


def test_verb_items_without_event_ids_keep_their_derived_ids_on_a_resend(client, auth, store):
    body = batch([{"itemType": "identify", "traits": {"a": 1}}], batch_id="b-derived")
    first = client.post(BATCH, json=body, headers=auth).json
    assert client.post(BATCH, json=body, headers=auth).json == first
    item_id = first["results"][0]["itemId"]
    assert queued(store, item_id)["itemData"]["eventId"] == item_id
    # The id is the batch's and the index's: the same item in another batch is another call.
    other = client.post(BATCH, json={**body, "batchId": "b-other"}, headers=auth).json
    assert other["results"][0]["itemId"] != item_id
    assert store.queue_counts(app_id="testapp") == {"pending": 2}


LEGACY_ITEM = {"itemType": "identify", "itemId": "r1", "recordId": "rec-1", "baseVersion": 0,
               "data": {"theme": "dark"}}


class TestLegacyRecordTypes:
    @pytest.fixture
    def app_config(self):
        return {"LEGACY_RECORD_TYPE_APPS": "other, testapp"}

    def test_a_listed_app_keeps_the_verbs_item_types_as_record_types(self, client, auth,
                                                                     store):
        items = [LEGACY_ITEM, {"itemType": "page", "eventId": "p1", "name": "Home"},
                 {**record_item("r2"), "itemType": "group"}]
        answer = client.post(BATCH, json=batch(items), headers=auth).json
        assert [r["status"] for r in answer["results"]] == ["accepted", "rejected", "accepted"]
        assert "recordId" in answer["results"][1]["fields"]
        item = queued(store, "r1")
        assert (item["itemType"], item["recordId"]) == ("identify", "rec-1")
        assert item["itemData"]["data"] == {"theme": "dark"}
        # The verbs' own endpoints are the verbs still.
        assert client.post(url("identify"), json={"userId": "u1", "eventId": "v1"},
                           headers=auth).status_code == 202
        assert queued(store, "v1")["recordId"] is None


@pytest.mark.parametrize("app_config, legacy", [
    ({"LEGACY_RECORD_TYPE_APPS": "*"}, True),
    ({"LEGACY_RECORD_TYPE_APPS": "other"}, False),
    ({"LEGACY_RECORD_TYPE_APPS": ""}, False),
], ids=["all", "another-app", "none"])
def test_the_setting_names_apps_or_all(client, auth, store, app_config, legacy):
    answer = client.post(BATCH, json=batch([LEGACY_ITEM, event_item("e1")]), headers=auth).json
    assert (answer["results"][0]["status"] == "accepted") is legacy
    if not legacy:
        assert "recordId" in answer["results"][0]["fields"]
