"""The Python SDK against the real server: crash and restart, fork, retries, limits, exit."""

import email.utils
import gzip
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests
from requests.adapters import HTTPAdapter

from app.accounts.keys import create_key
from app.store.common import utcnow
from prepmate_telemetry import (
    TelemetryClient,
    TelemetryError,
    default_queue_path,
    timestamp_problem,
    uuid7,
)
from prepmate_telemetry.client import parse_retry_after
from prepmate_telemetry.queue import DiskQueue

from .conftest import CLIENT_TIMES, sdk_env

SENDER = Path(__file__).with_name("sdk_sender.py")


@pytest.fixture
def app_config():
    # 5,000 events of one user stay pending (the scheduler is off): lift the per-user backlog.
    return {"SYNC_MAX_QUEUE": 100_000}


@pytest.fixture
def queue_path(tmp_path):
    return str(tmp_path / "client-queue.sqlite3")


@pytest.fixture
def make_client(live_server, ingest_key, unique_user, queue_path):
    clients = []

    def make(**options):
        options.setdefault("user_id", unique_user)
        options.setdefault("queue_path", queue_path)
        options.setdefault("flush_interval", 0.2)
        client = TelemetryClient(live_server.url, options.pop("api_key", ingest_key), **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.shutdown(timeout=2)


def queued(queue_path):
    """Items left in a client's queue file."""
    queue = DiskQueue(queue_path)
    try:
        return queue.count()
    finally:
        queue.close()


def run_sender(mode, live_server, key, queue_path, count, user_id, **popen):
    args = [
        sys.executable,
        str(SENDER),
        mode,
        live_server.url,
        key,
        queue_path,
        str(count),
        user_id,
    ]
    return subprocess.Popen(args, env=sdk_env(), stdout=subprocess.PIPE, text=True, **popen)


def test_uuid7_event_ids_are_time_ordered():
    ids = [uuid7() for _ in range(2000)]
    assert ids == sorted(ids) and len(set(ids)) == 2000
    first = uuid.UUID(ids[0])
    assert first.version == 7 and first.variant == uuid.RFC_4122
    assert abs((first.int >> 80) - time.time() * 1000) < 5000


def test_captured_event_reaches_the_server(make_client, counts, unique_user):
    client = make_client()
    completed = []
    client.on("sync:complete", completed.append)
    event_id = client.capture_event("interview_completed", {"score": 85, "duration": 1800})

    assert client.flush(timeout=10)
    assert counts.event_ids([unique_user]) == [event_id]
    assert completed[0]["successCount"] == 1
    assert client.queue_size() == 0


def test_sigkill_while_sending_then_restart_delivers_every_item_exactly_once(
    live_server, ingest_key, counts, unique_user, queue_path
):
    # 5000 on SQLite; fewer on mongomock, whose unique indexes slow down with every document.
    total = 5000 if counts.kind == "sqlite" else 1000
    sender = run_sender("capture", live_server, ingest_key, queue_path, total, unique_user)
    try:
        assert sender.stdout.readline().strip() == "captured"
        deadline = time.monotonic() + 60
        while counts.events([unique_user])[0] < total // 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        sender.send_signal(signal.SIGKILL)
        sender.wait(10)
    finally:
        sender.kill()
        sender.stdout.close()
    at_kill = counts.events([unique_user])[0]
    assert total // 5 <= at_kill < total, "the kill must land in the middle of sending"
    assert queued(queue_path) > 0

    resumed = run_sender("resume", live_server, ingest_key, queue_path, 0, unique_user)
    try:
        assert resumed.wait(120) == 0
    finally:
        resumed.kill()
        resumed.stdout.close()

    assert counts.events([unique_user]) == (total, total, 0)
    assert queued(queue_path) == 0


def test_a_batch_the_server_took_before_a_crash_is_resent_with_its_batch_id(
    live_server, ingest_key, counts, unique_user, make_client, queue_path
):
    queue = DiskQueue(queue_path)
    for i in range(3):
        event_id = uuid7()
        item = {
            "itemType": "event",
            "eventId": event_id,
            "eventType": "sdk_python_test",
            "eventData": {"i": i},
            "metadata": {"clientTimestamp": "2026-01-01T00:00:00Z"},
        }
        queue.put(event_id, unique_user, 0, item, 100)
    # A process (long gone) claimed the batch and the server stored it; then it died.
    batch = queue.claim("999999999:gone", 100, 512 * 1024, 60)
    queue.close()
    answer = requests.post(
        f"{live_server.url}/api/telemetry/batch",
        json={"batchId": batch.batch_id, "userId": unique_user, "items": batch.items},
        headers={"Authorization": f"Bearer {ingest_key}"},
        timeout=10,
    )
    assert answer.status_code == 202 and answer.json()["accepted"] == 3

    client = make_client()
    started = []
    client.on("sync:start", started.append)
    assert client.flush(timeout=10)
    assert [s["batchId"] for s in started] == [batch.batch_id]
    assert counts.events([unique_user]) == (3, 3, 0)
    assert counts.batch_logs(batch.batch_id) == 1


def test_after_fork_the_child_sends_too(live_server, ingest_key, counts, unique_user, queue_path):
    sender = run_sender("fork", live_server, ingest_key, queue_path, 200, unique_user)
    try:
        assert sender.wait(120) == 0
        assert sender.stdout.read().strip() == "child 0"
    finally:
        sender.kill()
        sender.stdout.close()
    assert counts.events([unique_user]) == (200, 200, 0)
    assert counts.events([f"{unique_user}-child"]) == (200, 200, 0)


def test_items_left_at_exit_are_sent_by_the_atexit_flush(
    live_server, ingest_key, counts, unique_user, queue_path
):
    sender = run_sender("exit", live_server, ingest_key, queue_path, 300, unique_user)
    try:
        assert sender.wait(60) == 0
    finally:
        sender.kill()
        sender.stdout.close()
    assert counts.events([unique_user]) == (300, 300, 0)


class FlakyAdapter(HTTPAdapter):
    """Answers 503 with Retry-After to the first `failures` requests, then passes them on."""

    def __init__(self, failures, retry_after="1"):
        super().__init__()
        self.failures = failures
        self.retry_after = retry_after
        self.seen = []

    def send(self, request, **kwargs):
        self.seen.append((time.monotonic(), request.body))
        if len(self.seen) > self.failures:
            return super().send(request, **kwargs)
        response = requests.Response()
        response.status_code = 503
        response.headers["Retry-After"] = self.retry_after
        response.headers["Content-Type"] = "application/json"
        response._content = b'{"error": "unavailable", "message": "store down", "fields": {}}'
        response.request = request
        response.url = request.url
        return response


def test_503_with_retry_after_is_retried_with_the_same_batch(
    make_client, live_server, counts, unique_user
):
    client = make_client()
    adapter = FlakyAdapter(failures=2)
    client._session.mount(live_server.url, adapter)
    errors = []
    client.on("sync:error", errors.append)
    for i in range(20):
        client.capture_event("sdk_python_test", {"i": i})

    assert client.flush(timeout=15)
    assert counts.events([unique_user]) == (20, 20, 0)
    assert [e["willRetry"] for e in errors] == [True, True]
    assert isinstance(errors[0]["error"], TelemetryError) and errors[0]["status"] == 503
    bodies = [body for _, body in adapter.seen[:3]]
    batch_ids = {json.loads(gzip.decompress(b))["batchId"] for b in bodies}
    assert len(batch_ids) == 1
    assert adapter.seen[1][0] - adapter.seen[0][0] >= 0.95


def test_rejected_items_are_dropped_and_the_rest_delivered(make_client, counts, unique_user):
    client = make_client()
    errors = []
    client.on("sync:error", errors.append)
    good = client.capture_event("interview_completed", {"score": 85, "duration": 1800})
    bad = client.capture_event("interview_completed", {"score": 500, "duration": -1})

    assert client.flush(timeout=10)
    assert counts.event_ids([unique_user]) == [good]
    assert [i["itemId"] for e in errors for i in e["items"]] == [bad]
    assert errors[0]["willRetry"] is False


def test_a_refused_key_keeps_the_items_on_disk(make_client, counts, unique_user):
    client = make_client(api_key="not-a-key")
    errors = []
    client.on("sync:error", errors.append)
    client.capture_event("sdk_python_test", {"i": 1})

    assert not client.flush(timeout=2)
    assert len(errors) == 1 and errors[0]["status"] == 401 and errors[0]["retryIn"] >= 60
    assert client.queue_size() == 1
    assert counts.events([unique_user])[0] == 0


@pytest.mark.parametrize(
    ("header", "low", "high"),
    [("3", 3, 3), ("0", 0, 0), ("soon", None, None), (None, None, None), ("http-date", 1, 2)],
)
def test_retry_after_accepts_seconds_and_http_dates(header, low, high):
    if header == "http-date":
        header = email.utils.formatdate(time.time() + 2, usegmt=True)
    seconds = parse_retry_after(header)
    if low is None:
        assert seconds is None
    else:
        assert low <= seconds <= high


def test_a_full_queue_drops_the_oldest_lowest_priority_items(make_client):
    client = make_client(max_queue=5, send=False)
    dropped = []
    client.on("queue:dropped", dropped.append)
    low = [client.capture_event("sdk_python_test", {"i": i}, priority="low") for i in range(3)]
    normal = [client.capture_event("sdk_python_test", {"i": i}) for i in range(4)]

    assert [i for d in dropped for i in d["itemIds"]] == low[:2]
    assert client.queue_size() == 5
    assert normal  # kept, with the newest low-priority one


def test_records_chain_base_versions_and_reach_the_server(make_client, counts, unique_user):
    client = make_client()
    first = client.save_record("user_settings", "s1", {"theme": "dark"})
    second = client.save_record("user_settings", "s1", {"theme": "light"})

    assert client.flush(timeout=10)
    rows = counts.queued(unique_user, "user_settings")
    assert [r["itemId"] for r in rows] == [first, second]
    assert client.known_version("user_settings", "s1") == 2


def test_oversized_items_are_refused_at_capture(make_client):
    client = make_client(send=False)
    with pytest.raises(TelemetryError) as info:
        client.capture_event("sdk_python_test", {"blob": "x" * 40_000})
    assert info.value.code == "item_too_large"


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "\ud800"])
def test_values_the_server_refuses_are_refused_at_capture(make_client, value):
    client = make_client(send=False)
    with pytest.raises(TelemetryError) as info:
        client.capture_event("sdk_python_test", {"value": value})
    assert info.value.code == "invalid_item"
    assert client.capture_event("sdk_python_test", {"value": 1})  # the queue goes on


def test_use_after_shutdown_raises(make_client):
    client = make_client()
    client.shutdown(timeout=1)
    with pytest.raises(TelemetryError):
        client.capture_event("sdk_python_test", {})
    assert os.getpid()  # the process goes on normally


def test_records_round_trip_through_the_server(
    records_api, make_client, apply_queue, tmp_path, unique_user
):
    client = make_client()
    client.save_record("user_settings", "s1", {"theme": "dark"})
    client.save_record("user_settings", "s1", {"theme": "light", "font": "large"})
    assert client.flush(timeout=10)
    apply_queue()

    pulled = client.pull_records("user_settings")
    assert [(r["recordId"], r["version"]) for r in pulled] == [("s1", 2)]
    assert pulled[0]["data"] == {"theme": "light", "font": "large"}
    assert client.known_version("user_settings", "s1") == 2

    # Another device of the same user edits the record on top of version 2.
    other = make_client(queue_path=str(tmp_path / "other-device.sqlite3"))
    other.pull_records("user_settings")
    other.save_record("user_settings", "s1", {"theme": "blue", "font": "large"})
    assert other.flush(timeout=10)
    apply_queue()

    assert [r["version"] for r in client.pull_records("user_settings")] == [3]
    assert client.pull_records("user_settings") == []  # nothing new since the checkpoint
    client.save_record("user_settings", "s1", {"theme": "green", "font": "large"})
    assert client.flush(timeout=10)
    apply_queue()
    latest = other.pull_records("user_settings")
    assert [(r["version"], r["data"]["theme"]) for r in latest] == [(4, "green")]


# --- The queue belongs to the endpoint; caller timestamps; flush results; batching ---


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    """The user's cache directory, where default queue files live."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "prepmate-telemetry"


@pytest.fixture
def same_app_keys(store):
    """Two keys of one app: the first is revoked, the second is the one that works."""
    app_name = f"sdk-{uuid.uuid4().hex[:8]}"
    revoked, doc = create_key(store, app_name, ["ingest", "read"])
    good, _ = create_key(store, app_name, ["ingest", "read"])
    store.revoke_api_key(doc["keyId"], utcnow())
    return revoked, good


def legacy_name(endpoint, key):
    """The queue file name releases before 0.2 used: one per endpoint and key."""
    digest = hashlib.sha256(f"{endpoint}\0{key}".encode()).hexdigest()[:16]
    return f"queue-{digest}.sqlite3"


def event_item(i):
    event_id = uuid7()
    return event_id, {
        "itemType": "event",
        "eventId": event_id,
        "eventType": "sdk_python_test",
        "eventData": {"i": i},
        "metadata": {"clientTimestamp": "2026-01-01T00:00:00Z"},
    }


def test_events_queued_with_a_revoked_key_go_out_with_the_next_clients_key(
    live_server, same_app_keys, cache_dir, counts, unique_user
):
    revoked, good = same_app_keys
    first = TelemetryClient(live_server.url, revoked, user_id=unique_user, flush_interval=0.2)
    ids = [first.capture_event("sdk_python_test", {"i": i}) for i in range(50)]
    refused = first.flush(timeout=1)
    assert (refused.delivered, refused.pending, bool(refused)) == (False, 50, False)
    first.shutdown(timeout=1)

    second = TelemetryClient(live_server.url, good, user_id=unique_user, flush_interval=0.2)
    try:
        delivered = second.flush(timeout=10)
    finally:
        second.shutdown(timeout=2)
    assert counts.events([unique_user]) == (50, 50, 0)
    assert sorted(counts.event_ids([unique_user])) == sorted(ids)
    assert delivered and second.queue_path == first.queue_path


def test_a_queue_file_left_under_an_old_per_key_name_is_adopted(
    live_server, same_app_keys, cache_dir, counts, unique_user
):
    revoked, good = same_app_keys
    # What an earlier release left: 20 events, 5 of them in a batch the server already took.
    cache_dir.mkdir(parents=True)
    old_path = cache_dir / legacy_name(live_server.url, revoked)
    old = DiskQueue(str(old_path))
    ids = []
    for i in range(20):
        event_id, item = event_item(i)
        old.put(event_id, unique_user, 0, item, 100)
        ids.append(event_id)
    batch = old.claim("999999999:gone", 5, 512 * 1024, 60)
    old.close()
    answer = requests.post(
        f"{live_server.url}/api/telemetry/batch",
        json={"batchId": batch.batch_id, "userId": unique_user, "items": batch.items},
        headers={"Authorization": f"Bearer {good}"},
        timeout=10,
    )
    assert answer.status_code == 202 and answer.json()["accepted"] == 5
    # A file of another key is not this client's to take.
    stranger = cache_dir / legacy_name(live_server.url, "some-other-key")
    DiskQueue(str(stranger)).close()
    other_id, other_item = event_item(0)
    queue = DiskQueue(str(stranger))
    queue.put(other_id, unique_user, 0, other_item, 100)
    queue.close()

    client = TelemetryClient(
        live_server.url, good, user_id=unique_user, previous_api_keys=[revoked],
        flush_interval=0.2,
    )
    started = []
    client.on("sync:start", started.append)
    try:
        assert client.flush(timeout=10)
    finally:
        client.shutdown(timeout=2)
    assert counts.events([unique_user]) == (20, 20, 0)
    assert sorted(counts.event_ids([unique_user])) == sorted(ids)
    # The batch the server had went again under its batchId: answered, not stored twice.
    assert started[0]["batchId"] == batch.batch_id
    assert counts.batch_logs(batch.batch_id) == 1
    assert queued(str(old_path)) == 0
    assert queued(str(stranger)) == 1


def test_queue_file_names_are_hashes_and_a_queue_name_keeps_two_apps_apart(cache_dir):
    endpoint = "http://telemetry.example.org:5000"
    path = default_queue_path(endpoint)
    assert os.path.dirname(path) == str(cache_dir)
    assert "example" not in path and "5000" not in path
    assert default_queue_path(endpoint, "app-b") not in (path, default_queue_path("x"))
    assert default_queue_path(endpoint) == path


def test_two_clients_with_different_queue_names_keep_their_own_queues(
    live_server, ingest_key, cache_dir
):
    first = TelemetryClient(live_server.url, ingest_key, queue_name="app-a", send=False)
    second = TelemetryClient(live_server.url, ingest_key, queue_name="app-b", send=False)
    try:
        first.capture_event("sdk_python_test", {})
        assert (first.queue_size(), second.queue_size()) == (1, 0)
    finally:
        first.shutdown()
        second.shutdown()


@pytest.mark.parametrize(("value", "valid"), CLIENT_TIMES)
def test_timestamp_rules_match_the_server(value, valid):
    assert (timestamp_problem(value) is None) is valid


def test_a_callers_client_timestamp_is_kept_and_a_bad_one_refused_at_capture(
    make_client, counts, unique_user
):
    client = make_client()
    kept = [value for value, valid in CLIENT_TIMES if valid]
    ids = [client.capture_event("sdk_python_test", {}, metadata={"clientTimestamp": value,
                                                                   "source": "import"})
           for value in kept]
    for value, valid in CLIENT_TIMES:
        if not valid:
            with pytest.raises(TelemetryError) as info:
                client.capture_event("sdk_python_test", {}, metadata={"clientTimestamp": value})
            assert info.value.code == "invalid_item"
            assert list(info.value.fields) == ["metadata.clientTimestamp"]
    assert client.queue_size() == len(kept)

    assert client.flush(timeout=10)
    stored = {item["eventId"]: item["metadata"] for item in counts.event_items([unique_user])}
    assert [stored[i]["clientTimestamp"] for i in ids] == kept
    assert all(stored[i]["source"] == "import" for i in ids)


def test_flush_returns_what_it_delivered(make_client, queue_path, unique_user, counts):
    # Nothing listens on port 9 of this host: every attempt is a network error.
    unreachable = TelemetryClient("http://127.0.0.1:9", "key", user_id=unique_user,
                                  queue_path=queue_path, flush_interval=0.2)
    for i in range(3):
        unreachable.capture_event("sdk_python_test", {"i": i})
    waiting = unreachable.flush(timeout=1)
    unreachable.shutdown(timeout=0.5)
    assert (waiting.delivered, waiting.pending, bool(waiting)) == (False, 3, False)

    done = make_client().flush(timeout=10)
    assert (done.delivered, done.pending, bool(done)) == (True, 0, True)
    assert counts.events([unique_user]) == (3, 3, 0)


class CountingAdapter(HTTPAdapter):
    """Counts the requests that go through."""

    def __init__(self):
        super().__init__()
        self.requests = 0

    def send(self, request, **kwargs):
        self.requests += 1
        return super().send(request, **kwargs)


def test_a_steady_stream_goes_out_in_few_requests(make_client, live_server, counts, unique_user):
    client = make_client(flush_interval=1.0)
    adapter = CountingAdapter()
    client._session.mount(live_server.url, adapter)
    ids = []
    for i in range(300):
        ids.append(client.capture_event("sdk_python_test", {"i": i}))
        time.sleep(0.012)

    assert client.flush(timeout=10)
    assert counts.events([unique_user]) == (300, 300, 0)
    assert adapter.requests <= 10
