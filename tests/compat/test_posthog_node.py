"""posthog-node (the pinned package, unmodified) driven through `node` against a live server.

tests/compat/posthog_node.js makes the calls a test names and reports what the client emitted.
posthog-node gzips its batches by default (Content-Encoding: gzip), counts any 2xx as sent,
retries 408, 429 and 5xx `fetchRetryCount` times `fetchRetryDelay` ms apart, halves a batch
answered 413, and drops a batch answered any other 4xx.
"""

import json
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from .posthog_helpers import event_counts, posthog_key, posthog_logs, profile, queued, sync_now

DRIVER = Path(__file__).with_name("posthog_node.js")
N = 25


def run_node(host, key, calls, **options):
    """Run the driver; its report {errors, sent, ms}."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("the posthog-node tests need `node` (Node.js 20 or later)")
    spec = {"host": host, "apiKey": key, "calls": calls, **options}
    done = subprocess.run([node, str(DRIVER)], input=json.dumps(spec), capture_output=True,
                          text=True, timeout=120, cwd=DRIVER.parent)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def ids():
    return f"user-{uuid.uuid4().hex[:10]}", f"anon-{uuid.uuid4().hex[:10]}"


def captures(user, n, event="lesson_done"):
    return [{"kind": "capture", "distinctId": user, "event": event,
             "properties": {"i": i, "$browser": "node", "score.max": 10}} for i in range(n)]


@pytest.mark.parametrize("compression", [True, False], ids=["gzip", "plain"])
def test_captures_identity_and_page_view_land_once(compat_server, compression):
    served = compat_server
    user, anon = ids()
    calls = [
        {"kind": "identify", "distinctId": user,
         "properties": {"$set": {"plan": "pro"}, "$set_once": {"signup": "ads"}}},
        *captures(user, N),
        {"kind": "identify", "distinctId": user, "properties": {"$set_once": {"signup": "x"}}},
        # posthog-node names the user as distinctId and the other id as alias (posthog-python
        # sends them the other way round).
        {"kind": "alias", "distinctId": user, "alias": anon},
        {"kind": "groupIdentify", "groupType": "company", "groupKey": "acme",
         "properties": {"seats": 5}, "distinctId": user},
        {"kind": "capture", "distinctId": user, "event": "$pageview",
         "properties": {"$current_url": "https://example.com/home", "title": "Home"}},
    ]
    report = run_node(served.url, served.key, calls, disableCompression=not compression)
    assert report["errors"] == []
    assert len(report["sent"]) == len(calls)

    events = queued(served.store, served.app_id, "event", user)
    assert len(events) == N + 1
    first = events[0]["itemData"]
    assert first["eventData"]["i"] == 0
    assert first["eventData"][posthog_key("$lib")] == "posthog-node"
    assert first["eventData"][posthog_key("score.max")] == 10
    assert first["metadata"]["source"] == "posthog"

    sync_now(served.url, served.key)
    assert event_counts(served.url, served.key) == {"lesson_done": N, "page_viewed": 1}
    person = profile(served.url, served.key, user)
    assert person is not None
    assert person["traits"]["plan"] == "pro"
    assert person["traits"]["signup"] == "ads"
    assert anon in person["anonymousIds"]
    assert person["groups"] == ["company:acme"]  # <$group_type>:<$group_key>


def test_503s_are_retried_by_the_library_and_nothing_is_stored_twice(compat_server, flaky_proxy):
    served = compat_server
    proxy = flaky_proxy(served.url, fail_first=2)
    user, _anon = ids()
    report = run_node(proxy.url, served.key, captures(user, N), fetchRetryDelay=300)
    assert report["errors"] == []
    assert proxy.refused == 2
    assert [status for _m, _path, status in proxy.passed] == [200]
    events = queued(served.store, served.app_id, "event", user)
    assert sorted(e["itemData"]["eventData"]["i"] for e in events) == list(range(N))


def test_refused_requests_are_not_retried(compat_server, flaky_proxy):
    served = compat_server
    proxy = flaky_proxy(served.url, fail_first=0)
    user, _anon = ids()
    report = run_node(proxy.url, "phc_not_a_key_of_this_service", captures(user, 3),
                      fetchRetryDelay=300)
    assert [e["status"] for e in report["errors"]] == [401]
    assert [(path, status) for _m, path, status in proxy.passed] == [("/batch/", 401)]

    # One valid and one invalid message: 200, the valid one kept, the other logged.
    report = run_node(proxy.url, served.key, [
        {"kind": "capture", "distinctId": user, "event": "lesson_done"},
        {"kind": "capture", "distinctId": user, "event": "x" * 101},
    ], fetchRetryDelay=300)
    assert report["errors"] == []
    assert len(queued(served.store, served.app_id, "event", user)) == 1
    [log] = posthog_logs(served.store)
    assert (log["successCount"], log["rejectedCount"]) == (1, 1)

    # Nothing valid: 400, dropped by the library without a retry.
    report = run_node(proxy.url, served.key, [
        {"kind": "capture", "distinctId": user, "event": "y" * 101}], fetchRetryDelay=300)
    assert [e["status"] for e in report["errors"]] == [400]
    assert [status for _m, _p, status in proxy.passed] == [401, 200, 400]
