"""posthog-python (the pinned package, unmodified) against a live server: only its host is set.

What it sends lands as events, page views and profiles; it retries a 503 on its own and
nothing is stored twice; its gzip works; what the server refuses is answered so the library
stops (it counts only 200 as success and retries 5xx, 408 and 429).
"""

import uuid

import pytest
from posthog import Posthog

from .posthog_helpers import (
    event_counts,
    posthog_key,
    posthog_logs,
    profile,
    queued,
    sync_now,
)

N = 25


def client_for(url, key, **options):
    """A posthog-python client on `url`, and the errors it reports (on_error)."""
    errors = []
    client = Posthog(key, host=url, flush_at=options.pop("flush_at", 100), flush_interval=0.05,
                     on_error=lambda error, batch: errors.append((error, batch)), **options)
    return client, errors


def ids():
    return f"user-{uuid.uuid4().hex[:10]}", f"anon-{uuid.uuid4().hex[:10]}"


@pytest.mark.parametrize("gzip", [False, True], ids=["plain", "gzip"])
def test_captures_identity_and_page_view_land_once(compat_server, gzip):
    served = compat_server
    user, anon = ids()
    client, errors = client_for(served.url, served.key, gzip=gzip)
    for i in range(N):
        client.capture("lesson_done", distinct_id=user,
                       properties={"i": i, "$browser": "cli", "score.max": 10})
    client.set(distinct_id=user, properties={"plan": "pro", "$email": "u@example.com"})
    client.set_once(distinct_id=user, properties={"signup": "ads"})
    client.set_once(distinct_id=user, properties={"signup": "later"})
    client.alias(previous_id=anon, distinct_id=user)
    client.group_identify("company", "acme", {"seats": 5}, distinct_id=user)
    client.capture("$pageview", distinct_id=user,
                   properties={"$current_url": "https://example.com/home", "title": "Home"})
    client.shutdown()
    assert errors == []

    events = queued(served.store, served.app_id, "event", user)
    assert len(events) == N + 1
    first = events[0]["itemData"]
    assert first["eventType"] == "lesson_done"
    data = first["eventData"]
    assert (data["i"], data[posthog_key("$browser")], data[posthog_key("score.max")]) == (
        0, "cli", 10)
    assert data[posthog_key("$lib")] == "posthog-python"
    assert first["metadata"]["source"] == "posthog"
    assert first["metadata"]["clientTimestamp"]

    sync_now(served.url, served.key)
    counts = event_counts(served.url, served.key)
    assert counts == {"lesson_done": N, "page_viewed": 1}
    person = profile(served.url, served.key, user)
    assert person is not None
    traits = person["traits"]
    assert traits["plan"] == "pro" and traits[posthog_key("$email")] == "u@example.com"
    assert traits["signup"] == "ads"  # $set_once: the first value stays
    assert anon in person["anonymousIds"]
    assert person["groups"] == ["company:acme"]  # <$group_type>:<$group_key>


def test_a_resent_uuid_is_stored_once(compat_server):
    served = compat_server
    user, _anon = ids()
    event_id = str(uuid.uuid4())
    for _ in range(2):  # two clients, two requests, the same message: one event
        client, errors = client_for(served.url, served.key)
        client.capture("lesson_done", distinct_id=user, uuid=event_id,
                       timestamp="2026-01-02T03:04:05+00:00")
        client.shutdown()
        assert errors == []
    events = queued(served.store, served.app_id, "event", user)
    assert [e["itemId"] for e in events] == [event_id]


def test_503s_are_retried_by_the_library_and_nothing_is_stored_twice(compat_server, flaky_proxy):
    served = compat_server
    proxy = flaky_proxy(served.url, fail_first=2)
    user, _anon = ids()
    client, errors = client_for(proxy.url, served.key, max_retries=3)
    for i in range(N):
        client.capture("lesson_done", distinct_id=user, properties={"i": i})
    client.shutdown()
    assert errors == []
    assert proxy.refused == 2
    assert [status for _m, path, status in proxy.passed] == [200]
    events = queued(served.store, served.app_id, "event", user)
    assert sorted(e["itemData"]["eventData"]["i"] for e in events) == list(range(N))


def test_a_batch_past_the_native_limits_is_taken_whole(compat_server):
    """posthog-python sends messages up to 900 KiB and batches up to 5 MiB."""
    served = compat_server
    user, _anon = ids()
    client, errors = client_for(served.url, served.key, gzip=False)
    for i in range(3):
        client.capture("essay_saved", distinct_id=user, properties={"i": i, "text": "x" * 600_000})
    client.shutdown()
    assert errors == []
    assert len(queued(served.store, served.app_id, "event", user)) == 3


def test_invalid_messages_are_logged_and_the_valid_ones_kept(compat_server, flaky_proxy):
    served = compat_server
    proxy = flaky_proxy(served.url, fail_first=0)
    user, _anon = ids()
    client, errors = client_for(proxy.url, served.key)
    client.capture("lesson_done", distinct_id=user)
    client.capture("x" * 101, distinct_id=user)  # longer than an event type may be
    client.shutdown()
    assert errors == []  # answered 200: the library counts the batch as sent
    assert [e["itemData"]["eventType"] for e in queued(served.store, served.app_id, "event",
                                                       user)] == ["lesson_done"]
    [log] = posthog_logs(served.store)
    assert (log["successCount"], log["rejectedCount"], log["status"]) == (1, 1, "partial")
    [error] = served.store.get_batch_log(served.app_id, log["batchId"])["errors"]
    assert "eventType" in error["fields"]

    # A batch of nothing but invalid messages: 400, which the library does not retry.
    client, errors = client_for(proxy.url, served.key, max_retries=3)
    client.capture("y" * 101, distinct_id=user)
    client.shutdown()
    [(error, _batch)] = errors
    assert error.status == 400
    assert [status for _m, _p, status in proxy.passed] == [200, 400]
    assert posthog_logs(served.store)[0]["status"] == "error"


def test_a_bad_key_is_answered_401_and_not_retried(compat_server, flaky_proxy):
    served = compat_server
    proxy = flaky_proxy(served.url, fail_first=0)
    client, errors = client_for(proxy.url, "phc_not_a_key_of_this_service", max_retries=3)
    client.capture("lesson_done", distinct_id="someone")
    client.shutdown()
    [(error, _batch)] = errors
    assert error.status == 401
    assert [(path, status) for _m, path, status in proxy.passed] == [("/batch/", 401)]
    assert queued(served.store, served.app_id) == []
