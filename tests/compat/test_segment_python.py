"""segment-analytics-python, unmodified, against a live server (gunicorn on SQLite, and on the
real MongoDB of TEST_MONGODB_URI; the app in a thread on mongomock): with only its host set it
delivers every call once, retries 503s on its own, gzips, and stops at a refusal."""

import uuid
from datetime import UTC, datetime

import pytest
from segment.analytics import Client

from .segment_helpers import event_counts, profile, queued, segment_logs, sync_now

N = 25
EVENT = "Lesson Viewed"


def client_for(host, key, errors, **options):
    """The library as an app would set it up, with only its host changed (and a short upload
    interval, so the test does not wait)."""
    return Client(write_key=key, host=host, upload_interval=0.05,
                  on_error=lambda error, batch: errors.append((error, len(batch))), **options)


def ids():
    token = uuid.uuid4().hex[:10]
    return f"anon-{token}", f"user-{token}"


def send_journey(client, anonymous_id, user_id, n=N):
    """An anonymous visitor's tracks, sign-up (identify naming both ids, alias), then more
    tracks as the user and a page view."""
    for i in range(n):
        who = {"anonymous_id": anonymous_id} if i < n // 2 else {"user_id": user_id}
        client.track(event=EVENT, properties={"i": i, "$price": 1.5, "plan.tier": "pro"}, **who)
        if i == n // 2 - 1:
            client.identify(user_id=user_id, anonymous_id=anonymous_id,
                            traits={"plan": "pro", "email": f"{user_id}@example.com"})
            client.alias(previous_id=anonymous_id, user_id=user_id)
    client.page(user_id=user_id, category="Docs", name="Home", properties={"path": "/"})
    client.flush()
    client.join()


@pytest.mark.parametrize("compressed", [True, False], ids=["gzip", "plain"])
def test_n_tracks_identify_alias_page_land_exactly_once_with_the_traits(
        compat_server, compressed):
    errors = []
    anonymous_id, user_id = ids()
    client = client_for(compat_server.url, compat_server.key, errors, gzip=compressed)
    send_journey(client, anonymous_id, user_id)
    assert errors == []
    sync_now(compat_server.url, compat_server.key)
    assert event_counts(compat_server.url, compat_server.key) == {EVENT: N, "page_viewed": 1}
    person = profile(compat_server.url, compat_server.key, user_id)
    assert person is not None
    assert person["traits"]["plan"] == "pro"
    assert person["traits"]["email"] == f"{user_id}@example.com"
    assert anonymous_id in person["anonymousIds"]
    # The anonymous half of the history is the user's too.
    assert person["eventCount"] >= N


def test_503s_are_retried_by_the_library_and_each_event_still_lands_once(
        compat_server, flaky_proxy):
    proxy = flaky_proxy(compat_server.url, fail_first=3)
    errors = []
    anonymous_id, user_id = ids()
    client = client_for(proxy.url, compat_server.key, errors, gzip=True)
    send_journey(client, anonymous_id, user_id)
    assert errors == []
    assert proxy.refused == 3
    # Each retried message is a duplicate of itself, not a variant of its id.
    assert all(row["conflictOf"] is None
               for row in queued(compat_server.store, compat_server.app_id))
    sync_now(compat_server.url, compat_server.key)
    assert event_counts(compat_server.url, compat_server.key) == {EVENT: N, "page_viewed": 1}


def test_a_wrong_key_is_answered_so_that_the_library_stops_at_once(compat_server, flaky_proxy):
    proxy = flaky_proxy(compat_server.url, fail_first=0)
    errors = []
    client = client_for(proxy.url, "not-a-key", errors)
    for i in range(3):
        client.track(user_id="u1", event=EVENT, properties={"i": i})
    client.flush()
    client.join()
    # One request, answered 401, reported to on_error and not retried.
    assert [status for _method, _path, status in proxy.passed] == [401]
    [(error, count)] = errors
    assert error.status == 401 and count == 3
    assert queued(compat_server.store, compat_server.app_id) == []


def test_an_invalid_message_is_logged_and_the_rest_of_its_batch_kept_without_a_retry(
        compat_server, flaky_proxy):
    proxy = flaky_proxy(compat_server.url, fail_first=0)
    errors = []
    client = client_for(proxy.url, compat_server.key, errors, upload_size=100)
    for i in range(5):
        client.track(user_id="u1", event=EVENT, properties={"i": i})
    # A key with a NUL, which no store holds: the one message the server refuses.
    client.track(user_id="u1", event=EVENT, properties={"bad\x00key": 1})
    # The same message twice (its messageId and its time): stored once. (With another time it
    # would be another payload under the same id, kept as a conflicting variant.)
    sent_at = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
    for _ in range(2):
        client.track(user_id="u1", event=EVENT, properties={"again": True},
                     message_id="fixed-message-id", timestamp=sent_at)
    client.flush()
    client.join()
    assert errors == []
    assert all(status == 200 for _method, _path, status in proxy.passed)
    events = queued(compat_server.store, compat_server.app_id, "event")
    assert len(events) == 6
    assert [row["itemId"] for row in events].count("fixed-message-id") == 1
    logs = segment_logs(compat_server.store)
    assert sum(log["errorCount"] for log in logs) == 1
