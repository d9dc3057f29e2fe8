"""Sending items through the real ingest API and running the engine, for the sync tests."""

from datetime import timedelta

from app.store.common import utcnow, uuid7
from app.sync.engine import run_sync

_batches = iter(range(10**9))


def send(client, auth, items, user_id="u1", **envelope):
    """POST a batch; asserts every item was accepted and returns the answer."""
    body = {"batchId": f"b-{next(_batches)}-{uuid7()[-6:]}", "userId": user_id, "items": items,
            **envelope}
    response = client.post("/api/telemetry/batch", json=body, headers=auth)
    assert response.status_code == 202, response.get_json()
    answer = response.get_json()
    assert answer["rejected"] == 0, answer
    return answer


def event(event_id=None, event_type="practice_question_answered", **extra):
    return {"eventId": event_id or uuid7(), "eventType": event_type,
            "eventData": extra.pop("eventData", {"questionId": "q1"}), **extra}


def edit(item_id, record_id, base_version, data, record_type="note", **extra):
    return {"itemType": record_type, "itemId": item_id, "recordId": record_id,
            "baseVersion": base_version, "data": data, **extra}


def sync(app, store, at=None, **settings):
    """Run the engine once (optionally with a shifted clock) and return its batch logs."""
    config = dict(app.config, **settings)
    clock = (lambda: at) if at is not None else utcnow
    return run_sync(store, config, source="manual", clock=clock)


def later(seconds):
    return utcnow() + timedelta(seconds=seconds)


def item(store, item_id, app_id="testapp"):
    return store.get_queue_item(app_id, item_id)
