"""PostHog capture on the app itself (both stores): paths, bodies and their compressions, keys,
answers, what each message becomes, exactly once, and what posthog-js fetches to start."""

import base64
import gzip
import json
import uuid
from urllib.parse import quote

import pytest

from app.api.posthog import VENDOR

from .posthog_helpers import posthog_key, posthog_logs, queued

APP = "phapp"


@pytest.fixture
def key(api_key):
    return api_key("ingest", APP)


def post(client, path, body, content_type="application/json", headers=None):
    data = body if isinstance(body, bytes | str) else json.dumps(body).encode()
    return client.post(path, data=data, content_type=content_type, headers=headers or {})


def message(event="lesson_done", distinct_id="u1", **fields):
    return {"event": event, "distinct_id": distinct_id, "uuid": str(uuid.uuid4()),
            "properties": {"$lib": "test", "i": 1}, "timestamp": "2026-01-02T03:04:05Z",
            **fields}


def batch(key, *messages, **fields):
    return {"api_key": key, "batch": list(messages), "sent_at": "2026-01-02T03:04:06Z",
            **fields}


def items(store, item_type=None):
    return [row["itemData"] for row in queued(store, APP, item_type)]


@pytest.mark.parametrize("path", ["/batch/", "/batch", "/e/", "/e", "/i/v0/e/", "/i/v0/e",
                                  "/capture/", "/track/", "/engage", "/i/v0/ai/batch/"])
def test_each_capture_path_takes_a_batch_with_or_without_its_final_slash(
        client, store, key, path):
    sent = message()
    answer = post(client, path, batch(key, sent))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["status"] == 1
    [row] = queued(store, APP, "event")
    assert row["itemId"] == sent["uuid"] and row["userId"] == "u1"


@pytest.mark.parametrize("encoding", ["json", "content-encoding", "gzip-js", "gzip-js-bare",
                                      "base64", "form-json", "list", "single"])
def test_every_body_the_libraries_send_is_read(client, store, key, encoding):
    sent = message()
    body = json.dumps(batch(key, sent)).encode()
    path, content_type, headers = "/e/", "application/json", {}
    if encoding == "content-encoding":  # posthog-python gzip=True, posthog-node
        body, headers = gzip.compress(body), {"Content-Encoding": "gzip"}
    elif encoding == "gzip-js":  # older posthog-js: the query names it
        body, path, content_type = gzip.compress(body), "/e/?compression=gzip-js", "text/plain"
    elif encoding == "gzip-js-bare":  # posthog-js 1.449: text/plain gzip, nothing says so
        body, content_type = gzip.compress(body), "text/plain"
    elif encoding == "base64":  # posthog-js sendBeacon without gzip
        body = "data=" + quote(base64.b64encode(body).decode(), safe="")
        path, content_type = "/e/?compression=base64", "application/x-www-form-urlencoded"
    elif encoding == "form-json":
        body, content_type = "data=" + quote(body.decode(), safe=""), \
            "application/x-www-form-urlencoded"
    elif encoding == "list":  # a list of events, each with its token
        sent["properties"]["token"] = key
        body = json.dumps([sent]).encode()
    elif encoding == "single":
        body = json.dumps({**sent, "api_key": key}).encode()
    answer = post(client, path, body, content_type, headers)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    [item] = items(store, "event")
    assert item["eventId"] == sent["uuid"]
    assert "token" not in item["eventData"]  # the key is never stored


@pytest.mark.parametrize(("where", "status"), [
    ("body", 200), ("token", 200), ("query", 200), ("bearer", 200), ("properties", 200),
    ("none", 401), ("wrong", 401)])
def test_the_key_is_read_where_the_libraries_put_it(client, store, key, where, status):
    sent = message()
    body, path, headers = {"batch": [sent]}, "/batch/", {}
    if where == "body":
        body["api_key"] = key
    elif where == "token":
        body["token"] = key
    elif where == "query":
        path = f"/batch/?token={key}"
    elif where == "bearer":
        headers = {"Authorization": f"Bearer {key}"}
    elif where == "properties":
        sent["properties"]["token"] = key
    elif where == "wrong":
        body["api_key"] = "phc_unknown"
    answer = post(client, path, body, headers=headers)
    assert answer.status_code == status
    assert len(queued(store, APP)) == (status == 200)
    if status == 401:
        assert answer.get_json()["type"] == "authentication_error"
        assert answer.get_json()["detail"]


def test_a_key_without_the_ingest_scope_is_refused(client, store, api_key):
    answer = post(client, "/batch/", batch(api_key("read", APP), message()))
    assert answer.status_code == 403
    assert queued(store, APP) == []


@pytest.mark.parametrize(("body", "content_type", "path", "code"), [
    (b"{nope", "application/json", "/batch/", "invalid_json"),
    (b"", "application/json", "/batch/", "no_body"),
    (b"\x1f\x8bnot gzip at all", "text/plain", "/e/", "invalid_gzip"),
    (b"data=%%%", "application/x-www-form-urlencoded", "/e/?compression=base64",
     "invalid_base64"),
    (b"x", "text/plain", "/e/?compression=lz64", "unsupported_compression"),
    (b'"text"', "application/json", "/batch/", "invalid_payload"),
    (b'{"batch": {}}', "application/json", "/batch/", "invalid_payload"),
])
def test_a_wholly_invalid_request_is_answered_400_and_stores_nothing(
        client, store, body, content_type, path, code):
    answer = post(client, path, body, content_type)
    assert answer.status_code == 400
    assert answer.get_json()["code"] == code
    assert queued(store, APP) == []


def test_an_empty_batch_is_answered_400(client, store, key):
    answer = post(client, "/batch/", batch(key))
    assert (answer.status_code, answer.get_json()["code"]) == (400, "no_events")


def test_invalid_messages_are_logged_and_the_valid_ones_kept(client, store, key):
    good = message()
    answer = post(client, "/batch/", batch(
        key, good, message(event="x" * 101), message(distinct_id=None), "not an event",
        message(timestamp="yesterday")))
    assert answer.status_code == 200
    assert answer.get_json()["accepted"] == 1 and answer.get_json()["rejected"] == 4
    assert [item["eventId"] for item in items(store)] == [good["uuid"]]
    [log] = posthog_logs(store)
    assert (log["successCount"], log["rejectedCount"], log["status"]) == (1, 4, "partial")
    errors = store.get_batch_log(APP, log["batchId"])["errors"]
    assert [error["index"] for error in errors] == [1, 2, 3, 4]

    answer = post(client, "/batch/", batch(key, message(event="")))
    assert answer.status_code == 400
    assert answer.get_json()["code"] == "invalid_events"
    assert posthog_logs(store)[0]["status"] == "error"


def test_a_resent_message_is_stored_once_and_a_resent_batch_answered_as_before(
        client, store, key):
    sent = message()
    first = post(client, "/batch/", batch(key, sent))
    # A library's retry: the same messages, a new sent_at.
    again = post(client, "/batch/", batch(key, sent, sent_at="2026-01-02T03:05:00Z"))
    assert again.get_json() == first.get_json()
    # The same message in another batch: a duplicate.
    other = post(client, "/batch/", batch(key, sent, message()))
    assert other.get_json()["duplicates"] == 1
    assert len(items(store, "event")) == 2
    # A message without a uuid, resent: derived from the batch, so stored once too.
    bare = message()
    del bare["uuid"]
    for _ in range(2):
        post(client, "/batch/", batch(key, bare))
    assert len(items(store, "event")) == 3


def test_property_names_are_kept_escaped_and_the_times_read(client, store, key):
    sent = message(properties={"$current_url": "https://x/", "a.b": {"$c.d": [{"$e": 1}]},
                               "$set": {"plan": "pro"}, "distinct_id": "u1", "token": "t"})
    post(client, "/batch/", batch(key, sent))
    [event] = items(store, "event")
    assert event["eventData"] == {posthog_key("$current_url"): "https://x/",
                                  posthog_key("a.b"): {posthog_key("$c.d"): [
                                      {posthog_key("$e"): 1}]}}
    assert event["metadata"]["clientTimestamp"] == "2026-01-02T03:04:05Z"
    assert event["metadata"]["source"] == "posthog"
    [person] = items(store, "identify")
    assert person["traits"] == {"plan": "pro"} and person["userId"] == "u1"
    row = store.get_queue_item(APP, event["eventId"])
    assert row["meta"]["skewMs"] is not None  # sent_at read


def test_offset_stands_for_a_missing_timestamp(client, store, key):
    sent = message(offset=60_000)
    del sent["timestamp"]
    post(client, "/batch/", batch(key, sent))
    [event] = items(store, "event")
    assert event["metadata"]["clientTimestamp"]


def test_identify_set_alias_group_page_and_screen_become_identity_items(client, store, key):
    messages = [
        message("$identify", "user-1", properties={"$anon_distinct_id": "anon-1"},
                **{"$set": {"plan": "pro", "$email": "e"}, "$set_once": {"signup": "ads"}}),
        message("$set", "user-1", properties={"$set": {"level": 2}}),
        message("$set_once", "user-1", **{"$set_once": {"first": "x"}}),
        # posthog-python: previous id as distinct_id, the new one as alias
        message("$create_alias", "anon-2", properties={"distinct_id": "anon-2",
                                                       "alias": "user-1"}),
        message("$groupidentify", "user-1", properties={
            "$group_type": "company", "$group_key": "acme", "$group_set": {"seats": 5}}),
        message("$pageview", "user-1", properties={"title": "Home", "$pathname": "/"}),
        message("$screen", "user-1", properties={"$screen_name": "Settings"}),
    ]
    answer = post(client, "/batch/", batch(key, *messages))
    assert answer.get_json()["accepted"] == len(messages), answer.get_json()
    by_id = {item["eventId"]: item for item in items(store)}
    identify = by_id[messages[0]["uuid"]]
    assert (identify["userId"], identify["anonymousId"]) == ("user-1", "anon-1")
    assert identify["traits"] == {"plan": "pro", posthog_key("$email"): "e"}
    assert identify["traitsOnce"] == {"signup": "ads"}
    assert by_id[messages[1]["uuid"]]["traits"] == {"level": 2}
    assert by_id[messages[2]["uuid"]]["traitsOnce"] == {"first": "x"}
    alias = by_id[messages[3]["uuid"]]
    assert (alias["previousId"], alias["userId"]) == ("anon-2", "user-1")
    group = by_id[messages[4]["uuid"]]
    assert (group["groupId"], group["traits"]) == ("company:acme", {"seats": 5})
    page = by_id[messages[5]["uuid"]]
    assert (page["eventType"], page["eventData"]["name"]) == ("page_viewed", "Home")
    screen = by_id[messages[6]["uuid"]]
    assert (screen["eventType"], screen["eventData"]["name"]) == ("screen_viewed", "Settings")


@pytest.mark.parametrize(("properties", "user", "anonymous"), [
    ({}, "d1", None),  # server libraries: the distinct_id is the user
    ({"$is_identified": True}, "d1", None),
    ({"$is_identified": False, "$process_person_profile": True}, None, "d1"),
    ({"$process_person_profile": False}, None, "d1"),  # personless (posthog-python)
    ({"$is_identified": True, "$process_person_profile": False}, "d1", None),
])
def test_a_distinct_id_is_a_user_or_an_anonymous_id(client, store, key, properties, user,
                                                    anonymous):
    post(client, "/batch/", batch(key, message(distinct_id="d1", properties=properties)))
    [row] = queued(store, APP, "event")
    assert row["userId"] == "d1"  # the queue's key: the user, or else the anonymous id
    assert (row["itemData"].get("userId", row["userId"]), row["itemData"].get("anonymousId")) \
        == (user, anonymous)


def test_posthog_js_starts_with_a_config_and_no_feature_flags(client):
    for path in ("/flags/?v=2", "/flags?v=4", "/decide/?v=3"):
        answer = client.post(path, data=b"\x1f\x8b garbage is not read", content_type="text/plain")
        assert answer.status_code == 200
        body = answer.get_json()
        assert body["flags"] == {} and body["featureFlags"] == {}
        assert body["errorsWhileComputingFlags"] is False
        assert "feature flags" in body["detail"]
    config = client.get("/array/phc_abc/config").get_json()
    assert config["hasFeatureFlags"] is False and "gzip-js" in config["supportedCompression"]
    assert config["sessionRecording"] is False
    script = client.get('/array/x"<b>/config.js')
    assert script.status_code == 200 and script.mimetype == "application/javascript"
    assert 'w._POSTHOG_REMOTE_CONFIG["x\\"<b>"]=' in script.get_data(as_text=True)


def status_of(client, path):
    """A GET's status and headers (the body, a file, closed)."""
    with client.get(path) as answer:
        return answer.status_code, answer.headers


def test_posthog_js_scripts_are_served_beside_the_services_own_static_files(client):
    with client.get("/static/array.js") as array:
        assert array.status_code == 200 and b"posthog" in array.get_data().lower()
        assert array.headers["Access-Control-Allow-Origin"] == "*"
    version = json.loads((VENDOR / "package.json").read_text())["version"]
    assert status_of(client, f"/static/{version}/surveys.js")[0] == 200
    assert status_of(client, "/static/0.0.1/surveys.js")[0] == 404
    assert status_of(client, "/static/surveys.js")[0] == 200
    assert status_of(client, "/static/package.json")[0] == 404  # its .js files only
    status, headers = status_of(client, "/static/js/telemetry.js")
    assert status == 200 and "Access-Control-Allow-Origin" not in headers
    assert status_of(client, "/static/nothing-like-it.js")[0] == 404
    assert status_of(client, "/static/..%2Fapp%2F__init__.py")[0] == 404


def test_cors_covers_the_paths_posthog_js_calls(client, key):
    origin = {"Origin": "http://127.0.0.1:9"}
    for answer in (client.post("/e/", data=json.dumps(batch(key, message())),
                               content_type="application/json", headers=origin),
                   client.post("/flags/?v=2", data="{}", headers=origin),
                   client.get("/array/k/config", headers=origin),
                   client.options("/e/", headers={**origin,
                                                  "Access-Control-Request-Method": "POST"})):
        assert answer.headers.get("Access-Control-Allow-Origin") == "http://127.0.0.1:9"
