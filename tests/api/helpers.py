"""Request bodies for the API tests."""

from app.store.common import uuid7


def event_item(event_id=None, event_type="interview_completed", **data):
    data = data or {"score": 85, "duration": 1800}
    return {"itemType": "event", "eventId": event_id or uuid7(), "eventType": event_type,
            "eventData": data, "metadata": {"clientTimestamp": "2026-11-28T10:00:00Z"}}


def record_item(item_id, record_id="settings-1", base_version=0, **data):
    return {"itemType": "user_settings", "itemId": item_id, "recordId": record_id,
            "baseVersion": base_version, "data": data or {"theme": "dark"},
            "clientTimestamp": "2026-11-28T10:00:00Z"}


def batch(items, batch_id=None, user_id="u1", **extra):
    return {"batchId": batch_id or uuid7(), "userId": user_id, "items": items, **extra}
