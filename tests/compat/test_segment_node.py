"""@segment/analytics-node, unmodified, driven through `node` (tests/compat/segment_node.js)
against a live server: with only its host set it delivers every call once, retries 503s on its
own and stops at a refusal. It has no compression mode."""

import json
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from .segment_helpers import event_counts, profile, queued, segment_logs, sync_now

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("segment_node.js")
N = 25
EVENT = "Lesson Viewed"


def run_node(plan, timeout=90):
    """Run the plan through the library; what it saw: {statuses, errors}."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("the Node library tests need `node` on PATH")
    done = subprocess.run([node, str(SCRIPT), json.dumps(plan)], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def journey(anonymous_id, user_id, n=N):
    calls = []
    for i in range(n):
        who = {"anonymousId": anonymous_id} if i < n // 2 else {"userId": user_id}
        calls.append(["track", {"event": EVENT, "properties": {"i": i, "$price": 1.5},
                                **who}])
        if i == n // 2 - 1:
            calls.append(["identify", {"userId": user_id, "anonymousId": anonymous_id,
                                       "traits": {"plan": "pro", "email": "a@example.com"}}])
            calls.append(["alias", {"previousId": anonymous_id, "userId": user_id}])
    calls.append(["page", {"userId": user_id, "category": "Docs", "name": "Home",
                           "properties": {"path": "/"}}])
    return calls


def ids():
    token = uuid.uuid4().hex[:10]
    return f"anon-{token}", f"user-{token}"


def test_n_tracks_identify_alias_page_land_exactly_once_with_the_traits(compat_server):
    anonymous_id, user_id = ids()
    seen = run_node({"writeKey": compat_server.key, "host": compat_server.url,
                     "calls": journey(anonymous_id, user_id), "flushAt": 10})
    assert seen["errors"] == []
    assert seen["statuses"] and set(seen["statuses"]) == {200}
    sync_now(compat_server.url, compat_server.key)
    assert event_counts(compat_server.url, compat_server.key) == {EVENT: N, "page_viewed": 1}
    person = profile(compat_server.url, compat_server.key, user_id)
    assert person is not None
    assert person["traits"]["plan"] == "pro"
    assert anonymous_id in person["anonymousIds"]


def test_503s_are_retried_by_the_library_and_each_event_still_lands_once(
        compat_server, flaky_proxy):
    proxy = flaky_proxy(compat_server.url, fail_first=3)
    anonymous_id, user_id = ids()
    seen = run_node({"writeKey": compat_server.key, "host": proxy.url,
                     "calls": journey(anonymous_id, user_id), "flushAt": 50})
    assert seen["errors"] == []
    assert seen["statuses"][:3] == [503, 503, 503] and seen["statuses"][3:] == [200]
    # Each retried message is a duplicate of itself, not a variant of its id.
    assert all(row["conflictOf"] is None
               for row in queued(compat_server.store, compat_server.app_id))
    sync_now(compat_server.url, compat_server.key)
    assert event_counts(compat_server.url, compat_server.key) == {EVENT: N, "page_viewed": 1}


def test_a_wrong_key_is_answered_so_that_the_library_stops_at_once(compat_server, flaky_proxy):
    proxy = flaky_proxy(compat_server.url, fail_first=0)
    calls = [["track", {"userId": "u1", "event": EVENT, "properties": {"i": i}}]
             for i in range(3)]
    seen = run_node({"writeKey": "not-a-key", "host": proxy.url, "calls": calls,
                     "flushAt": 10, "maxRetries": 3})
    assert seen["statuses"] == [401]
    assert len(seen["errors"]) == 3  # each call reports its failed delivery
    assert [status for _method, _path, status in proxy.passed] == [401]
    assert queued(compat_server.store, compat_server.app_id) == []


def test_an_invalid_message_is_logged_and_the_rest_of_its_batch_kept_without_a_retry(
        compat_server):
    calls = [["track", {"userId": "u1", "event": EVENT, "properties": {"i": i}}]
             for i in range(4)]
    calls.append(["track", {"userId": "u1", "event": EVENT, "properties": {"bad\x00key": 1}}])
    seen = run_node({"writeKey": compat_server.key, "host": compat_server.url, "calls": calls,
                     "flushAt": 10})
    assert seen["statuses"] == [200]
    assert seen["errors"] == []
    assert len(queued(compat_server.store, compat_server.app_id, "event")) == 4
    assert sum(log["errorCount"] for log in segment_logs(compat_server.store)) == 1
