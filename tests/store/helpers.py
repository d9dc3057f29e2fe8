"""For the store tests: a SQLite store on a file, and queue documents shaped as ingest makes."""

from app.ingest.validate import encode, payload_hash
from app.store import create_store, schema
from app.store.common import utcnow


def open_store(path):
    """A SQLite store at `path` with its tables in place."""
    the_store = create_store({"SQLITE_PATH": str(path)})
    schema.open_store(the_store)
    return the_store


def queue_item(item_id, *, app_id="app1", user_id="u1", batch_id=None, data=None,
               item_type="event", priority=0):
    text = encode(data if data is not None else {"eventId": item_id, "eventType": "x",
                                                 "eventData": {"n": 1}, "metadata": {}})
    now = utcnow()
    return {
        "appId": app_id, "itemId": item_id, "userId": user_id, "itemType": item_type,
        "itemData": text, "meta": {"receivedAt": now.isoformat()}, "status": "pending",
        "priority": priority, "conflictResolution": None, "attempts": 0, "nextAttemptAt": now,
        "batchId": batch_id, "createdAt": now, "updatedAt": now,
        "payloadHash": payload_hash(user_id, item_type, text), "clientId": None, "seq": None,
        "recordId": None, "conflictOf": None,
    }


def event_item(item_id, app_id="app1", priority=0, data=None):
    item = queue_item(item_id, app_id=app_id, priority=priority, data=data or {
        "eventId": item_id, "eventType": "lesson_viewed", "eventData": {"n": 1, "tags": ["a"]},
        "metadata": {"clientTimestamp": "2026-01-01T10:00:00+00:00", "os": "ios"}})
    item["meta"] = {"receivedAt": "2026-01-01T10:00:05+00:00",
                    "timestamp": "2026-01-01T10:00:02.250000+00:00",
                    "sentAt": "2026-01-01T10:00:03+00:00", "skewMs": -2000, "clamped": False}
    return item


def batch_log(batch_id, results):
    now = utcnow()
    return {
        "batchId": batch_id, "userId": "u1", "clientId": None, "source": "client",
        "itemCount": len(results), "successCount": len(results), "failureCount": 0,
        "duplicateCount": 0, "conflictCount": 0, "rejectedCount": 0, "startTime": now,
        "endTime": now, "sentAt": None, "status": "success", "errors": [], "results": results,
    }
