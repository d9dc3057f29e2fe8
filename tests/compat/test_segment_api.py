"""The Segment HTTP Tracking API on the app itself (both stores): paths, keys, answers, what each
message becomes, exactly once, and the CDN documents analytics.js loads."""

import gzip
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from app.accounts.keys import create_key
from app.extensions import store as store_ext
from tests.conftest import close_app, make_app
from tests.stored import take_down

from .segment_helpers import basic, queued, segment_logs

APP = "segapp"


@pytest.fixture
def write_key(api_key):
    return api_key("ingest", APP)


def post(client, path, body, key=None, content_type="application/json", headers=None):
    headers = dict(headers or {})
    if key is not None:
        headers["Authorization"] = basic(key)
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(path, data=data, headers=headers, content_type=content_type)


def iso(moment):
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def track(event="Lesson Viewed", **fields):
    message = {"type": "track", "event": event, "userId": "u1",
               "messageId": f"m-{uuid.uuid4().hex}", "properties": {"lesson": 3},
               "timestamp": iso(datetime.now(UTC)),
               "context": {"library": {"name": "test", "version": "1"}}}
    message.update(fields)
    return message


@pytest.mark.parametrize(("path", "content_type"), [
    ("/v1/track", "application/json"),
    ("/v1/t", "text/plain"),  # analytics.js: one-letter path, text/plain
    ("/v1/track", None),
])
def test_a_message_path_reads_its_body_as_json_whatever_the_content_type(
        client, store, write_key, path, content_type):
    message = track()
    message.pop("type")  # the path says what it is
    answer = post(client, path, message, write_key, content_type=content_type)
    assert answer.status_code == 200
    assert answer.get_json() == {"success": True}
    [row] = queued(store, APP, "event")
    assert row["itemId"] == message["messageId"]
    assert row["userId"] == "u1"
    data = row["itemData"]
    assert data["eventType"] == "Lesson Viewed"
    assert data["eventData"] == {"lesson": 3}
    assert data["metadata"]["source"] == "segment"
    assert data["metadata"]["context"] == message["context"]
    assert data["metadata"]["clientTimestamp"] == message["timestamp"]


@pytest.mark.parametrize("where", ["basic", "body", "message"])
def test_the_write_key_is_the_basic_user_name_or_writeKey_in_the_body(
        client, store, write_key, where):
    message = track()
    if where == "basic":
        answer = post(client, "/v1/batch", {"batch": [message]}, write_key)
    elif where == "body":
        answer = post(client, "/v1/batch", {"batch": [message], "writeKey": write_key})
    else:  # analytics.js puts it in each message it posts
        answer = post(client, "/v1/t", dict(message, writeKey=write_key))
    assert answer.status_code == 200, answer.get_json()
    assert len(queued(store, APP, "event")) == 1


@pytest.mark.parametrize(("key", "status"), [
    (None, 401),
    ("pm_nothing_like_a_key", 401),
    ("read", 403),
])
def test_a_missing_unknown_or_unscoped_key_is_refused_and_nothing_is_stored(
        client, store, api_key, key, status):
    if key == "read":
        key = api_key("read", APP)
    answer = post(client, "/v1/batch", {"batch": [track()]}, key)
    # 401 and 403 are among the statuses every Segment library drops without retrying.
    assert answer.status_code == status
    assert answer.get_json()["success"] is False
    assert answer.get_json()["code"] in ("unauthorized", "forbidden")
    assert queued(store, APP) == []


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'{"batch": {}}', b'{"batch": []}',
                                  b'{"batch": [{}], "sentAt": "yesterday"}'])
def test_a_body_that_is_no_segment_request_answers_400_and_stores_nothing(
        client, store, write_key, body):
    answer = post(client, "/v1/batch", body, write_key)
    assert answer.status_code == 400
    assert answer.get_json()["success"] is False
    assert queued(store, APP) == []
    assert segment_logs(store) == []


def test_a_batch_keeps_its_valid_messages_and_logs_each_refused_one_with_its_reason(
        client, store, write_key):
    good = track()
    no_event = track()
    del no_event["event"]
    unknown = dict(track(), type="teleport")
    bad_time = track(timestamp="yesterday")
    answer = post(client, "/v1/batch", {"batch": [no_event, good, unknown, bad_time]}, write_key)
    # The libraries drop a whole batch answered 400: the valid message must not go with it.
    assert answer.status_code == 200
    assert answer.get_json() == {"success": True}
    assert [row["itemId"] for row in queued(store, APP)] == [good["messageId"]]
    [log] = segment_logs(store)
    assert log["status"] == "partial"
    full = store.get_batch_log(APP, log["batchId"])
    reasons = {error["index"]: error["fields"] for error in full["errors"]}
    assert set(reasons) == {0, 2, 3}
    assert "eventType" in reasons[0]
    assert "type" in reasons[2]
    assert "metadata.clientTimestamp" in json.dumps(reasons[3])


def test_a_batch_with_no_valid_message_is_still_logged(client, store, write_key):
    answer = post(client, "/v1/batch", {"batch": [dict(track(), type="nothing")]}, write_key)
    assert answer.status_code == 200
    [log] = segment_logs(store)
    assert log["status"] == "error"
    assert queued(store, APP) == []


def test_a_resent_message_is_stored_once_though_its_transport_fields_change(
        client, store, write_key):
    message = track()
    for attempt in range(3):
        # analytics.js sets a new sentAt and _metadata.retryCount on each attempt.
        resent = dict(message, sentAt=iso(datetime.now(UTC)), writeKey=write_key,
                      _metadata={"retryCount": attempt, "bundled": ["Segment.io"]},
                      integrations={"All": attempt % 2 == 0})
        assert post(client, "/v1/t", resent).status_code == 200
    [row] = queued(store, APP)
    assert row["itemId"] == message["messageId"]
    assert row["conflictOf"] is None


def test_a_resent_batch_of_messages_without_ids_is_stored_once_though_its_sent_at_changes(
        client, store, write_key):
    messages = [{k: v for k, v in track(event=f"Step {n}").items() if k != "messageId"}
                for n in range(3)]
    for _attempt in range(2):
        body = {"batch": messages, "sentAt": iso(datetime.now(UTC))}
        assert post(client, "/v1/batch", body, write_key).status_code == 200
    assert len(queued(store, APP)) == 3


def test_keys_the_stores_refuse_are_escaped_and_kept(client, store, write_key):
    message = track(properties={"$price": 9.5, "a.b": {"$c.d": [{"e.f": 1}]}, "plain": "x.y"},
                    context={"$ip": "127.0.0.1", "page": {"url": "http://a.b/c"}})
    assert post(client, "/v1/batch", {"batch": [message]}, write_key).status_code == 200
    [row] = queued(store, APP)
    data = row["itemData"]
    assert data["eventData"] == {"\uff04price": 9.5,
                                 "a\uff0eb": {"\uff04c\uff0ed": [{"e\uff0ef": 1}]},
                                 "plain": "x.y"}
    assert data["metadata"]["context"] == {"\uff04ip": "127.0.0.1",
                                           "page": {"url": "http://a.b/c"}}


def test_gzip_bodies_are_taken(client, store, write_key):
    body = gzip.compress(json.dumps({"batch": [track(), track()]}).encode())
    answer = post(client, "/v1/batch", body, write_key, headers={"Content-Encoding": "gzip"})
    assert answer.status_code == 200
    assert len(queued(store, APP)) == 2


def test_sent_at_corrects_the_clients_clock(client, store, write_key):
    # The client's clock is an hour behind; it sent the message 5 s after it happened.
    behind = datetime.now(UTC) - timedelta(hours=1)
    message = track(timestamp=iso(behind - timedelta(seconds=5)))
    answer = post(client, "/v1/batch", {"batch": [message], "sentAt": iso(behind)}, write_key)
    assert answer.status_code == 200
    [row] = queued(store, APP)
    meta = store.get_queue_item(APP, row["itemId"])["meta"]
    happened = datetime.fromisoformat(meta["timestamp"])
    expected = datetime.now(UTC) - timedelta(seconds=5)
    assert abs(happened - expected) < timedelta(seconds=3)
    assert meta["skewMs"] < -3_500_000


def test_a_message_id_the_native_pattern_refuses_is_named_by_a_stable_derived_id(
        client, store, write_key):
    message = track(messageId="order 17/a")
    for _ in range(2):
        assert post(client, "/v1/batch", {"batch": [message]}, write_key).status_code == 200
    [row] = queued(store, APP)
    assert row["itemId"] != "order 17/a"
    assert row["itemData"]["metadata"]["messageId"] == "order 17/a"


def test_numbers_as_ids_are_taken_as_text(client, store, write_key):
    assert post(client, "/v1/batch", {"batch": [track(userId=42)]}, write_key).status_code == 200
    [row] = queued(store, APP)
    assert row["userId"] == "42"


def test_identity_messages_become_the_native_identity_items(client, store, write_key):
    messages = [
        {"type": "identify", "userId": "u9", "anonymousId": "anon-9", "messageId": "m-i",
         "traits": {"plan": "pro", "$email": "a@b.c"}},
        {"type": "alias", "previousId": "anon-9", "userId": "u9", "messageId": "m-a"},
        {"type": "group", "userId": "u9", "groupId": "g1", "messageId": "m-g",
         "traits": {"name": "Acme"}},
        {"type": "page", "anonymousId": "anon-9", "messageId": "m-p", "name": "Home",
         "category": "Docs", "properties": {"path": "/"}},
        {"type": "screen", "userId": "u9", "messageId": "m-s", "name": "Settings"},
    ]
    answer = post(client, "/v1/batch", {"batch": messages}, write_key)
    assert answer.status_code == 200
    [log] = segment_logs(store)
    assert log["status"] == "success", store.get_batch_log(APP, log["batchId"])["errors"]
    rows = {row["itemId"]: row for row in queued(store, APP)}
    assert rows["m-i"]["itemType"] == "identify"
    assert rows["m-i"]["itemData"]["traits"] == {"plan": "pro", "\uff04email": "a@b.c"}
    assert (rows["m-i"]["itemData"]["userId"], rows["m-i"]["itemData"]["anonymousId"]) == (
        "u9", "anon-9")
    assert rows["m-a"]["itemData"]["previousId"] == "anon-9"
    assert rows["m-g"]["itemData"]["groupId"] == "g1"
    assert rows["m-a"]["itemType"] == "alias"
    assert rows["m-g"]["itemType"] == "group"
    # page and screen are the events page_viewed and screen_viewed.
    assert rows["m-p"]["itemType"] == "event"
    assert rows["m-p"]["itemData"]["eventType"] == "page_viewed"
    assert rows["m-p"]["itemData"]["eventData"] == {"path": "/", "name": "Home",
                                                    "category": "Docs"}
    assert rows["m-s"]["itemData"]["eventType"] == "screen_viewed"


def test_the_settings_document_points_analytics_js_at_this_host(client):
    answer = client.get("/v1/projects/any-key/settings", base_url="http://telemetry.test:8080")
    assert answer.status_code == 200
    settings = answer.get_json()
    assert settings["integrations"]["Segment.io"]["apiHost"] == "telemetry.test:8080/v1"
    assert settings["integrations"]["Segment.io"]["protocol"] == "http"
    assert settings["integrations"]["Segment.io"]["apiKey"] == "any-key"
    assert list(settings["integrations"]) == ["Segment.io"]  # nothing else to load
    assert settings["metrics"]["sampleRate"] == 0
    https = client.get("/v1/projects/k/settings", base_url="https://telemetry.test")
    assert https.get_json()["integrations"]["Segment.io"]["protocol"] == "https"


def test_analytics_js_and_its_chunks_are_served_from_the_pinned_package(client):
    answer = client.get("/analytics.js/v1/any-key/analytics.min.js")
    assert answer.status_code == 200
    assert answer.mimetype == "text/javascript"
    assert b"analytics-next/bundles/" in answer.data
    answer.close()
    chunk = client.get("/analytics-next/bundles/standalone.js")
    assert chunk.status_code == 200
    chunk.close()
    assert client.get("/analytics-next/bundles/../../css/console.css").status_code == 404


def test_a_body_past_the_compatible_limit_answers_413_as_json(tmp_path, store_kind):
    app = make_app(tmp_path, store_kind, COMPAT_MAX_CONTENT_LENGTH=2000)
    try:
        with app.app_context():
            key, _doc = create_key(store_ext.get(app), APP, ["ingest"])
        client = app.test_client()
        big = {"batch": [track(properties={"text": "x" * 3000})]}
        for body, headers in ((json.dumps(big).encode(), {}),
                              (gzip.compress(json.dumps(big).encode()),
                               {"Content-Encoding": "gzip"})):
            answer = post(client, "/v1/batch", body, key, headers=headers)
            # 413: every Segment library drops the batch rather than retry it.
            assert answer.status_code == 413
            assert answer.get_json()["error"] == "payload_too_large"
    finally:
        close_app(app)


def test_a_store_outage_answers_503_with_retry_after_which_the_libraries_retry(
        client, store, write_key, monkeypatch):
    take_down(store, monkeypatch)
    answer = post(client, "/v1/batch", {"batch": [track()]}, write_key)
    assert answer.status_code == 503
    assert answer.get_json()["error"] == "store_unavailable"
    assert int(answer.headers["Retry-After"]) > 0


def test_the_keys_rate_limit_answers_429_with_retry_after(tmp_path, store_kind):
    app = make_app(tmp_path, store_kind, RATE_LIMIT_PER_MINUTE=1)
    try:
        with app.app_context():
            key, _doc = create_key(store_ext.get(app), APP, ["ingest"])
        client = app.test_client()
        assert post(client, "/v1/batch", {"batch": [track()]}, key).status_code == 200
        answer = post(client, "/v1/batch", {"batch": [track()]}, key)
        assert answer.status_code == 429
        assert int(answer.headers["Retry-After"]) > 0
    finally:
        close_app(app)


MESSAGES = {
    "track": {"event": "Signed Up"},
    "identify": {"traits": {"plan": "pro"}},
    "page": {"name": "Home"},
    "screen": {"name": "Settings"},
    "group": {"groupId": "g1", "traits": {"name": "Acme"}},
    "alias": {"previousId": "anon-1"},
}
QUEUED_AS = {"track": "event", "page": "event", "screen": "event", "identify": "identify",
             "group": "group", "alias": "alias"}


@pytest.mark.parametrize("kind", sorted(MESSAGES))
@pytest.mark.parametrize("short", [False, True], ids=["path", "letter"])
def test_every_message_path_stores_its_message(client, store, write_key, kind, short):
    message = {"userId": "u1", "messageId": f"m-{kind}", **MESSAGES[kind]}
    path = f"/v1/{kind[0] if short else kind}"
    answer = post(client, path, message, write_key, content_type="text/plain")
    assert answer.status_code == 200
    [row] = queued(store, APP)
    assert (row["itemId"], row["itemType"]) == (f"m-{kind}", QUEUED_AS[kind])


@pytest.mark.parametrize("path", ["/v1/batch", "/v1/import", "/v1/b"])
def test_every_batch_path_stores_its_messages(client, store, write_key, path):
    answer = post(client, path, {"batch": [track(), track()]}, write_key)
    assert answer.status_code == 200
    assert len(queued(store, APP)) == 2
