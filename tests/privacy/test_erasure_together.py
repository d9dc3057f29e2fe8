"""Erasure with the suppression at ingest and the explorer's counts: a resend of erased data is
answered duplicate and not stored; the hourly counts drop with the erased events."""

from app.privacy import erasure
from tests.privacy.erasure_helpers import post
from tests.sync.helpers import sync


def hours(store):
    return sum(n for _start, _type, n in store.event_histogram({"appId": "testapp"}, "hour"))


def test_a_resend_of_erased_events_is_a_duplicate_and_counts_drop(client, auth, store, app):
    mine = [{"eventId": f"e{i}", "eventType": "opened", "eventData": {"i": i},
             "metadata": {"clientTimestamp": "2026-11-28T10:00:00Z"}} for i in range(3)]
    other = [{"eventId": "o1", "eventType": "opened", "eventData": {},
              "metadata": {"clientTimestamp": "2026-11-28T10:00:00Z"}}]
    post(client, auth, mine, userId="gone", batchId="b-gone")
    post(client, auth, other, userId="stays")
    sync(app, store)
    assert hours(store) == 4
    assert client.delete("/api/telemetry/people/gone", headers=auth).status_code == 202
    erasure.run_deletions(store, app.config)
    assert hours(store) == 1
    again = client.post("/api/telemetry/batch", headers=auth, json={
        "batchId": "b-new", "userId": "gone", "items": mine})
    assert again.status_code == 202, again.json
    assert [r["status"] for r in again.json["results"]] == ["duplicate"] * 3, again.json
    replay = client.post("/api/telemetry/batch", headers=auth, json={
        "batchId": "b-gone", "userId": "gone", "items": mine})
    assert replay.status_code == 202, replay.json
    sync(app, store)
    assert hours(store) == 1
