"""What the compatibility tests read back, whatever the protocol: through the port (queue,
batch logs) or over HTTP from the live server (a sync run, event counts, a person's profile)."""

import json
from datetime import timedelta

import requests

from app.store.common import utcnow


def queued(store, app_id, item_type=None, user_id=None):
    """The app's queue entries (with their payloads as stored), oldest first."""
    match = {}
    if item_type is not None:
        match["itemType"] = item_type
    if user_id is not None:
        match["userId"] = user_id
    rows = store.queue_page(match, app_ids=[app_id], limit=1000)[::-1]
    out = []
    for row in rows:
        item = store.get_queue_item(app_id, row["itemId"])
        data = item["itemData"]
        out.append(dict(row, itemData=json.loads(data) if isinstance(data, str) else data))
    return out


def protocol_logs(store, source):
    """The batch logs of one protocol's requests (without per-item results), newest first."""
    return store.batch_page(utcnow() - timedelta(days=1), source=source, limit=1000)


def auth(key):
    return {"Authorization": f"Bearer {key}"}


def sync_now(url, key):
    """Run a sync on the live server and wait for it (the scheduler is off in tests)."""
    answer = requests.post(f"{url}/api/telemetry/sync", params={"wait": 20}, headers=auth(key),
                           timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def event_counts(url, key):
    """The app's stored telemetry events by eventType."""
    answer = requests.get(f"{url}/api/telemetry/metrics", headers=auth(key), timeout=30)
    assert answer.status_code == 200, answer.text
    return {row["eventType"]: row["count"] for row in answer.json()["byType"]}


def profile(url, key, user_id):
    """A person's profile as the API answers it (None when 404)."""
    answer = requests.get(f"{url}/api/telemetry/people/{user_id}", headers=auth(key),
                          timeout=30)
    if answer.status_code == 404:
        return None
    assert answer.status_code == 200, answer.text
    return answer.json()
