"""The documents the sync engine writes: telemetry events and record versions, built one way."""

from datetime import datetime

# Metadata the server adds to an event's own; left out when payloads are compared.
SERVER_METADATA = ("serverTimestamp", "receivedAt", "sentAt", "skewMs", "clamped")


def parse_time(value):
    """An ISO 8601 text (or a datetime, or None) as an aware datetime or None."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


def item_time(item):
    """When the client made an item, skew-corrected by ingest; its arrival when unknown."""
    meta = item.get("meta") or {}
    return parse_time(meta.get("timestamp") or meta.get("receivedAt")) or item["createdAt"]


def telemetry_document(item, now):
    """The telemetry event a queue item of itemType "event" becomes."""
    data = item["itemData"]
    meta = item.get("meta") or {}
    metadata = dict(data.get("metadata") or {})
    metadata.update(serverTimestamp=meta.get("timestamp"), receivedAt=meta.get("receivedAt"),
                    sentAt=meta.get("sentAt"), skewMs=meta.get("skewMs"),
                    clamped=meta.get("clamped", False))
    return {
        "appId": item["appId"], "eventId": data["eventId"], "userId": item.get("userId"),
        "anonymousId": data.get("anonymousId"), "eventType": data["eventType"],
        "eventData": data["eventData"], "status": "applied",
        "metadata": metadata, "payloadHash": item["payloadHash"],
        "timestamp": parse_time(meta.get("timestamp")) or item["createdAt"], "createdAt": now,
    }


def event_payload(doc):
    """What a client sent for an event (telemetry document or queue item), for comparing."""
    if "itemData" in doc:
        data = doc["itemData"]
        return {"userId": doc.get("userId"), "eventType": data["eventType"],
                "eventData": data["eventData"], "metadata": data.get("metadata") or {}}
    metadata = {k: v for k, v in (doc.get("metadata") or {}).items() if k not in SERVER_METADATA}
    return {"userId": doc.get("userId"), "eventType": doc["eventType"],
            "eventData": doc["eventData"], "metadata": metadata}


def write_version(store, key, current, data, now, updated_by, user_id=None, item_id=None):
    """Store `data` as the next version of the record `key` (appId, recordType, recordId).

    `current` is the record as read in the same unit of work (None for a new record); the old
    version stays in the history. Returns the new record document.
    """
    app_id, record_type, record_id = key
    version = current["version"] + 1 if current else 1
    doc = {
        "appId": app_id, "recordType": record_type, "recordId": record_id,
        "userId": user_id if user_id is not None else (current or {}).get("userId"),
        "version": version, "data": data, "updatedAt": now, "updatedBy": updated_by,
        "itemId": item_id,
    }
    return store.write_record(doc, current["version"] if current else 0)
