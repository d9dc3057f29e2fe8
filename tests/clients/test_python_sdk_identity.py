"""The Python SDK's tracking verbs against the real server (SPEC §11): identify, alias, group,
page/screen, reset, the persistent anonymous id, registered properties, opt-out, before_send,
automatic context, gzip bodies, flush() and restarts with identity items queued."""

import gzip
import json
import os
import platform
import signal
import socket
import threading
import time
import uuid
from contextlib import contextmanager

import pytest
import requests
from requests.adapters import HTTPAdapter
from werkzeug.serving import make_server

from prepmate_telemetry import TelemetryClient, TelemetryError, __version__
from prepmate_telemetry.queue import DiskQueue

from .test_python_sdk import run_sender


@pytest.fixture
def app_config():
    # A thousand items of one user stay pending (the scheduler is off): lift the backlog limit.
    return {"SYNC_MAX_QUEUE": 100_000}


@pytest.fixture
def queue_path(tmp_path):
    return str(tmp_path / "client-queue.sqlite3")


@pytest.fixture
def make_client(live_server, ingest_key, queue_path):
    """Clients of one queue file (a restart is a second client on it), shut down at the end."""
    clients = []

    def make(**options):
        options.setdefault("queue_path", queue_path)
        options.setdefault("flush_interval", 0.2)
        client = TelemetryClient(options.pop("endpoint", live_server.url),
                                 options.pop("api_key", ingest_key), **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.shutdown(timeout=2)


@pytest.fixture
def people(live_server, ingest_key, apply_queue):
    """A person's profile as GET /api/telemetry/people/<userId> answers it, after a sync run."""

    def get(user_id):
        apply_queue()
        answer = requests.get(f"{live_server.url}/api/telemetry/people/{user_id}",
                              headers={"Authorization": f"Bearer {ingest_key}"}, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()

    return get


def stored(counts, user_id, item_type="event"):
    """The items the server queued under one user (or anonymous) id, as stored, oldest first."""
    return [counts.payload(row) for row in counts.queued(user_id, item_type)]


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class Recorder(HTTPAdapter):
    """Keeps each request's headers and JSON body (inflated when gzipped); `refuse_gzip`
    answers 415 to gzip bodies, as a server or proxy that takes none would."""

    def __init__(self, refuse_gzip=False):
        super().__init__()
        self.refuse_gzip = refuse_gzip
        self.sent = []

    def send(self, request, **kwargs):
        raw = request.body
        gzipped = request.headers.get("Content-Encoding") == "gzip"
        body = json.loads(gzip.decompress(raw) if gzipped else raw)
        self.sent.append({"gzip": gzipped, "raw": raw, "body": body})
        if gzipped and self.refuse_gzip:
            response = requests.Response()
            response.status_code = 415
            response.headers["Content-Type"] = "application/json"
            response._content = b'{"error": "unsupported_encoding", "message": "", "fields": {}}'
            response.request, response.url = request, request.url
            return response
        return super().send(request, **kwargs)


def test_each_verb_reaches_the_server_as_the_contract_says(make_client, counts):
    client = make_client()
    anonymous_id = client.anonymous_id
    user, group = unique("user"), unique("group")
    before = client.capture_event("sdk_python_test", {"step": "before sign-in"})
    client.page("Pricing", {"path": "/pricing"}, category="marketing")
    identify = client.identify(user, {"name": "Ada", "plan": "free"},
                               traits_once={"firstSeenOn": "python"})
    after = client.capture_event("sdk_python_test", {"step": "after sign-in"})
    client.group(group, {"name": "Analytical Engines"})
    client.screen("Settings", {"tab": "privacy"})
    alias = client.alias(user, "crm-42")

    assert client.flush(timeout=10)
    # Until identify, items go under the anonymous id; from it on, under the user.
    anonymous = stored(counts, anonymous_id)
    assert [item["eventId"] for item in anonymous] == [before, anonymous[1]["eventId"]]
    assert [item["eventType"] for item in anonymous] == ["sdk_python_test", "page_viewed"]
    assert anonymous[0]["anonymousId"] == anonymous_id
    assert anonymous[1]["eventData"] == {"path": "/pricing", "name": "Pricing",
                                         "category": "marketing"}
    events = stored(counts, user)
    assert [(e["eventId"], e["eventType"]) for e in events][0] == (after, "sdk_python_test")
    assert [e["eventType"] for e in events] == ["sdk_python_test", "screen_viewed"]
    assert events[1]["eventData"] == {"tab": "privacy", "name": "Settings"}
    (identified,) = counts.queued(user, "identify")
    assert identified["itemId"] == identify
    sent = counts.payload(identified)
    assert (sent["userId"], sent["anonymousId"]) == (user, anonymous_id)
    assert sent["traits"] == {"name": "Ada", "plan": "free"}
    assert sent["traitsOnce"] == {"firstSeenOn": "python"}
    assert [row["itemId"] for row in counts.queued(user, "alias")] == [alias]
    (grouped,) = [counts.payload(row) for row in counts.queued(user, "group")]
    assert (grouped["groupId"], grouped["traits"]) == (group, {"name": "Analytical Engines"})
    (aliased,) = [counts.payload(row) for row in counts.queued(user, "alias")]
    assert (aliased["userId"], aliased["previousId"]) == (user, "crm-42")


def test_the_profile_holds_what_the_verbs_said(make_client, people):
    client = make_client()
    anonymous_id = client.anonymous_id
    user, group = unique("user"), unique("group")
    client.capture_event("sdk_python_test", {"step": "before sign-in"})
    client.identify(user, {"name": "Ada", "plan": "free"}, traits_once={"firstSeenOn": "python"})
    client.identify(traits={"plan": "pro"}, traits_once={"firstSeenOn": "later"})
    client.group(group, {"name": "Analytical Engines"})
    client.capture_event("sdk_python_test", {"step": "after sign-in"})
    assert client.flush(timeout=10)

    person = people(user)
    assert person["userId"] == user
    assert {k: person["traits"][k] for k in ("name", "plan", "firstSeenOn")} == {
        "name": "Ada", "plan": "pro", "firstSeenOn": "python"}
    assert person["anonymousIds"] == [anonymous_id]
    assert group in json.dumps(person["groups"])
    assert person["eventCount"] == 2  # the anonymous event is the user's too


def test_items_carry_the_automatic_context_and_registered_properties(make_client, counts):
    user = unique("user")
    client = make_client(user_id=user)
    client.register(appVersion="2.4.1", plan="pro")
    own = client.capture_event("sdk_python_test", {"plan": "trial"})
    client.page("Home")
    client.unregister("plan")
    client.capture_event("sdk_python_test", {})
    imported = client.capture_event("sdk_python_test", {}, metadata={"context": {"job": "import"}})

    assert client.flush(timeout=10)
    first, page, later, last = stored(counts, user)
    assert first["eventId"] == own and last["eventId"] == imported
    assert first["eventData"] == {"appVersion": "2.4.1", "plan": "trial"}  # its own data wins
    assert page["eventData"] == {"appVersion": "2.4.1", "plan": "pro", "name": "Home"}
    assert later["eventData"] == {"appVersion": "2.4.1"}
    assert first["metadata"]["context"] == {
        "library": {"name": "prepmate-telemetry-python", "version": __version__},
        "host": socket.gethostname(),
        "runtime": {"name": platform.python_implementation(),
                    "version": platform.python_version()},
        "os": {"name": platform.system(), "version": platform.release()},
    }
    assert last["metadata"]["context"] == {"job": "import"}  # the caller's context is kept
    assert counts.queued(user, "identify") == []  # register sends nothing of its own

    # The registered properties stay with the queue file.
    assert make_client().registered == {"appVersion": "2.4.1"}


def test_reset_keeps_and_sends_the_old_users_queue_as_the_old_user(make_client, counts):
    first, second = unique("user"), unique("user")
    client = make_client(send=False)
    first_anonymous = client.anonymous_id
    client.identify(first, {"name": "First"})
    client.register(team="red")
    old = [client.capture_event("sdk_python_test", {"i": i}) for i in range(3)]
    client.reset()
    assert client.user_id is None and client.registered == {}
    second_anonymous = client.anonymous_id
    assert second_anonymous != first_anonymous
    signed_out = [client.capture_event("sdk_python_test", {"i": i}) for i in range(2)]
    client.identify(second, {"name": "Second"})
    new = client.capture_event("sdk_python_test", {"i": 0})
    client.shutdown()

    sender = make_client()
    assert (sender.user_id, sender.anonymous_id) == (second, second_anonymous)
    assert sender.flush(timeout=10)
    assert [(e["eventId"], e["eventData"]) for e in stored(counts, first)] == [
        (event_id, {"team": "red", "i": i}) for i, event_id in enumerate(old)]
    assert [e["eventId"] for e in stored(counts, second_anonymous)] == signed_out
    assert [e["eventId"] for e in stored(counts, second)] == [new]
    assert stored(counts, first_anonymous) == []
    # Each identify linked its own anonymous id, and only that one.
    identified = [counts.payload(row) for user in (first, second)
                  for row in counts.queued(user, "identify")]
    assert [(i["userId"], i["anonymousId"]) for i in identified] == [
        (first, first_anonymous), (second, second_anonymous)]


def tracking_sent(adapter):
    """The items of the tracking verbs (anything but a record edit) in the recorded requests."""
    return [item for request in adapter.sent for item in request["body"]["items"]
            if "recordId" not in item]


def records_sent(adapter):
    return [item["itemId"] for request in adapter.sent for item in request["body"]["items"]
            if "recordId" in item]


def test_opted_out_records_sync_and_tracking_waits_across_restarts_until_opt_in(
    make_client, live_server, counts
):
    user = unique("user")
    client = make_client(user_id=user, send=False)
    events = [client.capture_event("sdk_python_test", {"i": i}) for i in range(2)]
    identified = client.identify(user, {"name": "Ada"})
    first_edit = client.save_record("user_settings", "s1", {"theme": "dark"})
    events.append(client.capture_event("sdk_python_test", {"i": 2}))
    client.opt_out()
    assert client.capture_event("sdk_python_test", {"while": "out"}) is None
    assert client.identify(user, {"name": "Ada"}) is None
    # A record edit is the user's data, not tracking: it is queued while opted out.
    second_edit = client.save_record("user_settings", "s1", {"theme": "light"})
    assert second_edit is not None
    client.shutdown()

    restarted = make_client(user_id=user)
    adapter = Recorder()
    restarted._session.mount(live_server.url, adapter)
    assert restarted.opted_out
    assert restarted.capture_event("sdk_python_test", {"while": "out"}) is None
    assert restarted.page("Home") is None and restarted.screen("Settings") is None
    assert restarted.group(unique("group")) is None and restarted.alias(user, "crm-1") is None
    third_edit = restarted.save_record("user_settings", "s1", {"theme": "blue"})
    # Every record edit is delivered; the four tracking items are held, not undelivered.
    done = restarted.flush(timeout=10)
    assert (done.delivered, done.pending, done.held, bool(done)) == (True, 4, 4, True)
    assert restarted.queue_size() == 4
    # The sender (a 0.2 s interval) has had five more rounds to send them, had it not held them.
    time.sleep(1.0)
    assert tracking_sent(adapter) == []
    assert records_sent(adapter) == [first_edit, second_edit, third_edit]  # in their order
    rows = counts.queued(user, "user_settings")
    assert [row["itemId"] for row in rows] == [first_edit, second_edit, third_edit]
    assert [counts.payload(row)["baseVersion"] for row in rows] == [0, 1, 2]
    assert counts.events([user])[0] == 0 and counts.queued(user, "identify") == []
    restarted.shutdown()

    # Another restart, still opted out: still held.
    again = make_client(user_id=user)
    adapter = Recorder()
    again._session.mount(live_server.url, adapter)
    held = again.flush(timeout=2)
    assert (held.delivered, held.pending, held.held) == (True, 4, 4)
    time.sleep(0.5)
    assert adapter.sent == [] and counts.events([user])[0] == 0

    again.opt_in()
    assert not again.opted_out
    sent = again.flush(timeout=10)
    assert (sent.delivered, sent.pending, sent.held) == (True, 0, 0)
    assert counts.event_ids([user]) == events  # each once, in the order captured
    assert [row["itemId"] for row in counts.queued(user, "identify")] == [identified]
    assert len(counts.queued(user, "user_settings")) == 3
    assert not make_client(user_id=user).opted_out


def test_opt_out_by_another_client_of_the_queue_holds_tracking(make_client, live_server,
                                                                counts):
    user = unique("user")
    sender = make_client(user_id=user)
    adapter = Recorder()
    sender._session.mount(live_server.url, adapter)
    make_client(send=False).opt_out()
    # Queued or not (as soon as its sender has looked at the file, nothing is captured)...
    event_id = sender.capture_event("sdk_python_test", {})
    edit = sender.save_record("user_settings", "s1", {"theme": "dark"})
    waited = sender.flush(timeout=10)
    held = 0 if event_id is None else 1
    assert (waited.delivered, waited.pending, waited.held) == (True, held, held)
    # ... no tracking item is sent; the record edit is.
    assert tracking_sent(adapter) == [] and counts.events([user])[0] == 0
    assert [row["itemId"] for row in counts.queued(user, "user_settings")] == [edit]
    assert sender.opted_out


def test_a_batch_claimed_before_the_opt_out_sends_its_records_and_holds_its_tracking(
    make_client, live_server, counts, queue_path
):
    user = unique("user")
    quiet = make_client(user_id=user, send=False)
    before = quiet.capture_event("sdk_python_test", {"i": 0})
    edit = quiet.save_record("user_settings", "s1", {"theme": "dark"})
    after = quiet.capture_event("sdk_python_test", {"i": 1})
    tracking_only = quiet.capture_event("sdk_python_test", {"i": 2}, user_id=unique("other"))
    # Two senders claimed a batch each before the opt-out, and left them unsent.
    queue = DiskQueue(queue_path)
    first, second = f"{os.getpid()}:first", f"{os.getpid()}:second"
    mixed = queue.claim(first, 10, 512 * 1024, 60)
    alone = queue.claim(second, 10, 512 * 1024, 60)
    queue.release_lease(first)
    queue.release_lease(second)
    queue.close()
    assert mixed.item_ids == [before, edit, after] and alone.item_ids == [tracking_only]
    quiet.opt_out()
    quiet.shutdown()

    restarted = make_client(user_id=user)
    adapter = Recorder()
    restarted._session.mount(live_server.url, adapter)
    done = restarted.flush(timeout=10)
    assert (done.delivered, done.pending, done.held) == (True, 3, 3)
    assert tracking_sent(adapter) == [] and records_sent(adapter) == [edit]
    assert [row["itemId"] for row in counts.queued(user, "user_settings")] == [edit]

    restarted.opt_in()
    started = []
    restarted.on("sync:start", started.append)
    assert restarted.flush(timeout=10)
    assert counts.event_ids([user]) == [before, after]
    assert len(counts.queued(user, "user_settings")) == 1
    # The batch of tracking alone waited under its batchId.
    assert alone.batch_id in [s["batchId"] for s in started]


def test_opted_out_a_queue_file_of_an_earlier_release_sends_its_records_alone(
    make_client, live_server, counts, queue_path
):
    user = unique("user")
    quiet = make_client(user_id=user, send=False)
    event_id = quiet.capture_event("sdk_python_test", {})
    edit = quiet.save_record("user_settings", "s1", {"theme": "dark"})
    quiet.opt_out()
    quiet.shutdown()
    # The file as a release before the tracking column left it.
    queue = DiskQueue(queue_path)
    queue._conn.execute("DROP INDEX items_unclassified")
    queue._conn.execute("ALTER TABLE items DROP COLUMN tracking")
    queue.close()

    restarted = make_client(user_id=user)
    adapter = Recorder()
    restarted._session.mount(live_server.url, adapter)
    done = restarted.flush(timeout=10)
    assert (done.delivered, done.pending, done.held) == (True, 1, 1)
    assert tracking_sent(adapter) == [] and records_sent(adapter) == [edit]
    restarted.opt_in()
    assert restarted.flush(timeout=10)
    assert counts.event_ids([user]) == [event_id]


class OptOutOnFirstRequest(Recorder):
    """Answers 503 to the first request and opts the client out meanwhile (the user said no
    while the batch was being retried)."""

    def __init__(self, client):
        super().__init__()
        self.client = client

    def send(self, request, **kwargs):
        if self.sent:
            return super().send(request, **kwargs)
        raw = request.body
        gzipped = request.headers.get("Content-Encoding") == "gzip"
        self.sent.append({"refused": True,
                          "body": json.loads(gzip.decompress(raw) if gzipped else raw)})
        self.client.opt_out()
        response = requests.Response()
        response.status_code = 503
        response.headers["Content-Type"] = "application/json"
        response._content = b'{"error": "unavailable", "message": "", "fields": {}}'
        response.request, response.url = request, request.url
        return response


def test_opting_out_while_a_batch_is_retried_stops_its_tracking(make_client, live_server,
                                                               counts):
    user = unique("user")
    client = make_client(user_id=user, flush_interval=5)
    adapter = OptOutOnFirstRequest(client)
    client._session.mount(live_server.url, adapter)
    event_id = client.capture_event("sdk_python_test", {})
    edit = client.save_record("user_settings", "s1", {"theme": "dark"})
    done = client.flush(timeout=10)
    assert (done.delivered, done.pending, done.held) == (True, 1, 1)
    refused, *retried = adapter.sent
    assert [i.get("eventId", i.get("itemId")) for i in refused["body"]["items"]] == [event_id, edit]
    assert [i for r in retried for i in r["body"]["items"] if "recordId" not in i] == []
    assert [row["itemId"] for row in counts.queued(user, "user_settings")] == [edit]
    assert counts.events([user])[0] == 0

    client.opt_in()
    assert client.flush(timeout=10)
    assert counts.event_ids([user]) == [event_id]


def test_before_send_changes_drops_and_samples(make_client, counts):
    user = unique("user")
    seen = []

    def before_send(item):
        seen.append(item["itemType"])
        if item.get("eventType") == "secret_thing":
            return None
        if item["itemType"] == "identify":
            item["traits"].pop("email", None)
        if item.get("eventType") == "sampled":
            # Keep one in three, by the event's own data (a rate a real app would draw).
            return item if item["eventData"]["i"] % 3 == 0 else None
        if item.get("eventType") == "renamed":
            item["eventType"] = "renamed_by_hook"
            item["eventId"] = "not-the-id"  # the id is the SDK's: a hook cannot change it
            del item["metadata"]["context"]["host"]  # for this item only
        return item

    client = make_client(user_id=user, before_send=before_send)
    assert client.capture_event("secret_thing", {}) is None
    client.identify(user, {"name": "Ada", "email": "ada@example.org"})
    sampled = [client.capture_event("sampled", {"i": i}) for i in range(9)]
    renamed = client.capture_event("renamed", {})
    plain = client.capture_event("plain", {})

    assert client.flush(timeout=10)
    assert seen == ["event", "identify", *["event"] * 11]
    events = stored(counts, user)
    assert [e["eventId"] for e in events] == [sampled[0], sampled[3], sampled[6], renamed, plain]
    assert [i for i in sampled if i is not None] == [sampled[0], sampled[3], sampled[6]]
    assert events[3]["eventType"] == "renamed_by_hook"
    assert "host" not in events[3]["metadata"]["context"]
    assert "host" in events[4]["metadata"]["context"]
    (identified,) = [counts.payload(r) for r in counts.queued(user, "identify")]
    assert identified["traits"] == {"name": "Ada"}


def test_a_failing_before_send_queues_nothing_and_says_so(make_client, counts):
    user = unique("user")

    def broken(item):
        if item["eventData"].get("i") == 1:
            item["eventData"]["half"] = "changed"
            raise RuntimeError("the hook has a bug")
        return "not an item" if item["eventData"].get("i") == 2 else item

    client = make_client(user_id=user, before_send=broken)
    for i in (1, 2):
        with pytest.raises(TelemetryError) as info:
            client.capture_event("sdk_python_test", {"i": i})
        assert info.value.code == "before_send_failed"
    assert client.queue_size() == 0
    event_id = client.capture_event("sdk_python_test", {"i": 3})  # the client goes on
    assert client.flush(timeout=10)
    (event,) = stored(counts, user)
    assert (event["eventId"], event["eventData"]) == (event_id, {"i": 3})


def test_the_anonymous_id_persists_across_restarts(make_client, counts, tmp_path):
    first = make_client()
    anonymous_id = first.anonymous_id
    assert uuid.UUID(anonymous_id).version == 4
    one = first.capture_event("sdk_python_test", {})
    assert first.flush(timeout=10)
    first.shutdown()

    second = make_client()
    assert second.anonymous_id == anonymous_id and second.user_id is None
    two = second.capture_event("sdk_python_test", {})
    assert second.flush(timeout=10)
    assert [e["eventId"] for e in stored(counts, anonymous_id)] == [one, two]
    # Another queue file is another installation: another anonymous id.
    other = make_client(queue_path=str(tmp_path / "other.sqlite3"))
    assert other.anonymous_id != anonymous_id


def test_gzip_bodies_are_sent_and_accepted(make_client, live_server, counts, tmp_path):
    user = unique("user")
    client = make_client(user_id=user)
    adapter = Recorder()
    client._session.mount(live_server.url, adapter)
    ids = [client.capture_event("sdk_python_test", {"text": "same words " * 20, "i": i})
           for i in range(50)]
    client.identify(user, {"name": "Ada"})
    assert client.flush(timeout=10)

    assert adapter.sent and all(request["gzip"] for request in adapter.sent)
    assert all(request["raw"][:2] == b"\x1f\x8b" for request in adapter.sent)
    plain = sum(len(gzip.decompress(r["raw"])) for r in adapter.sent)
    assert sum(len(r["raw"]) for r in adapter.sent) < plain / 5
    assert counts.event_ids([user]) == ids
    assert len(counts.queued(user, "identify")) == 1

    plain_client = make_client(user_id=user, gzip=False,
                               queue_path=str(tmp_path / "plain.sqlite3"))
    plain_adapter = Recorder()
    plain_client._session.mount(live_server.url, plain_adapter)
    plain_client.capture_event("sdk_python_test", {})
    assert plain_client.flush(timeout=10)
    assert [request["gzip"] for request in plain_adapter.sent] == [False]


def test_a_server_refusing_gzip_gets_the_same_batch_as_plain_json(make_client, live_server,
                                                                   counts):
    user = unique("user")
    client = make_client(user_id=user)
    adapter = Recorder(refuse_gzip=True)
    client._session.mount(live_server.url, adapter)
    ids = [client.capture_event("sdk_python_test", {"i": i}) for i in range(5)]
    assert client.flush(timeout=10)
    assert [r["gzip"] for r in adapter.sent] == [True, False]
    assert adapter.sent[0]["body"] == adapter.sent[1]["body"]
    assert counts.event_ids([user]) == ids


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def served_on(app, port):
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        thread.join(10)


def test_flush_is_false_while_the_server_is_down_and_true_once_it_is_up(
    app, ingest_key, make_client, counts
):
    user = unique("user")
    port = free_port()
    client = make_client(endpoint=f"http://127.0.0.1:{port}", timeout=2)
    anonymous_id = client.anonymous_id
    anonymous = client.capture_event("sdk_python_test", {})
    client.identify(user, {"name": "Ada"})
    known = [client.capture_event("sdk_python_test", {"i": i}) for i in range(3)]
    client.alias(user, "crm-7")

    down = client.flush(timeout=1.5)
    assert (down.delivered, down.pending, bool(down)) == (False, 6, False)
    with served_on(app, port):
        up = client.flush(timeout=30)
        assert (up.delivered, up.pending, bool(up)) == (True, 0, True)
    assert counts.event_ids([anonymous_id]) == [anonymous]
    assert counts.event_ids([user]) == known
    assert len(counts.queued(user, "identify")) == len(counts.queued(user, "alias")) == 1


def test_identity_items_in_a_batch_the_server_took_before_a_crash_are_stored_once(
    make_client, live_server, ingest_key, counts, queue_path
):
    user = unique("user")
    quiet = make_client(send=False)
    quiet.identify(user, {"name": "Ada"})
    quiet.group(unique("group"), {"name": "G"})
    quiet.page("Home")
    quiet.alias(user, "crm-9")
    for i in range(6):
        quiet.capture_event("sdk_python_test", {"i": i})
    quiet.shutdown()
    # A process (long gone) claimed the first batch, the server stored it, and the process
    # died before it could settle it.
    queue = DiskQueue(queue_path)
    batch = queue.claim("999999999:gone", 4, 512 * 1024, 60)
    queue.close()
    assert [item["itemType"] for item in batch.items] == ["identify", "group", "page", "alias"]
    answer = requests.post(
        f"{live_server.url}/api/telemetry/batch",
        json={"batchId": batch.batch_id, "userId": user, "items": batch.items},
        headers={"Authorization": f"Bearer {ingest_key}"}, timeout=10,
    )
    assert answer.status_code == 202 and answer.json()["accepted"] == 4, answer.text

    restarted = make_client()
    started = []
    restarted.on("sync:start", started.append)
    assert restarted.flush(timeout=10)
    assert started[0]["batchId"] == batch.batch_id  # resent under its batchId, answered again
    assert counts.batch_logs(batch.batch_id) == 1
    for item_type, count in (("identify", 1), ("alias", 1), ("group", 1), ("event", 7)):
        rows = counts.queued(user, item_type)
        assert len(rows) == len({r["itemId"] for r in rows}) == count, item_type


def test_a_restart_picks_up_identity_items_left_on_disk(
    live_server, ingest_key, queue_path, counts
):
    # What a process that never sent anything leaves behind, then the next one: it goes on as
    # the user identified, and sends the items once.
    user = unique("user")
    first = TelemetryClient(live_server.url, ingest_key, queue_path=queue_path, send=False)
    first.identify(user, {"name": "Ada"})
    ids = [first.capture_event("sdk_python_test", {"i": i}) for i in range(20)]
    first.shutdown()

    second = TelemetryClient(live_server.url, ingest_key, queue_path=queue_path,
                             flush_interval=0.2)
    try:
        assert second.user_id == user
        assert second.flush(timeout=10)
    finally:
        second.shutdown(timeout=2)
    assert counts.event_ids([user]) == ids
    assert len(counts.queued(user, "identify")) == 1


def test_sigkill_while_sending_identity_items_then_restart_stores_each_once(
    live_server, ingest_key, counts, queue_path
):
    user = unique("user")
    total = 1000 if counts.kind == "sqlite" else 400
    pages, groups = len(range(0, total, 10)), len(range(0, total, 25))
    sender = run_sender("verbs", live_server, ingest_key, queue_path, total, user)
    try:
        assert sender.stdout.readline().strip() == "captured"
        deadline = time.monotonic() + 60
        while counts.events([user])[0] < total // 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        sender.send_signal(signal.SIGKILL)
        sender.wait(10)
    finally:
        sender.kill()
        sender.stdout.close()
    at_kill = counts.events([user])[0]
    assert total // 5 <= at_kill < total + pages, "the kill must land in the middle of sending"

    resumed = run_sender("resume", live_server, ingest_key, queue_path, 0, user)
    try:
        assert resumed.wait(120) == 0
    finally:
        resumed.kill()
        resumed.stdout.close()

    assert counts.events([user]) == (total + pages, total + pages, 0)
    for item_type, count in (("identify", 1), ("group", groups), ("alias", 1)):
        rows = counts.queued(user, item_type)
        assert len(rows) == len({row["itemId"] for row in rows}) == count, item_type
