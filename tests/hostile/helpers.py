"""What the hostile tests share: the error shape, that nothing was stored, error names, exact
comparison, and reading data back."""

import json
import re
from datetime import UTC, datetime

from app.sync.documents import SERVER_METADATA

BATCH = "/api/telemetry/batch"
TRACK = "/api/telemetry/track"
APP = "testapp"

ERROR_CODE = re.compile(r"[a-z][a-z_]*")
THE_BEGINNING = datetime(1, 1, 1, tzinfo=UTC)


def check_error_shape(body):
    """`body` (parsed JSON) is the contract's error: error, message and fields, nothing else."""
    assert isinstance(body, dict), body
    assert set(body) == {"error", "message", "fields"}, body
    assert isinstance(body["error"], str) and ERROR_CODE.fullmatch(body["error"]), body
    assert isinstance(body["message"], str) and body["message"].strip(), body
    assert isinstance(body["fields"], dict), body
    return body


def error_of(response):
    """The error body of a Flask test response, checked for its shape."""
    assert response.status_code >= 400, (response.status_code, response.data[:300])
    assert response.mimetype == "application/json", response.data[:300]
    return check_error_shape(response.get_json())


def stored(store):
    """Everything a request could have added to the store."""
    return {"queue": store.queue_counts(),
            "batches": len(store.batch_page(THE_BEGINNING, limit=1000)),
            "conflicts": store.conflict_counts(),
            "events": store.event_type_counts(),
            "audit": len(store.list_audit(limit=1000))}


def names(fields, prefix=""):
    """Every field an error answer names, nested names joined with dots (a NUL in a name may
    come written as \\u0000: the batch log keeps names MongoDB can hold)."""
    found = set()
    for key, value in (fields or {}).items():
        name = f"{prefix}{key}".replace("\x00", "\\u0000")
        found.add(name)
        if isinstance(value, dict):
            found |= names(value, f"{name}.")
    return found


def exact(value):
    """A value's canonical JSON: equal only when the values are, types included (85 != 85.0)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=repr)


def assert_error_shape(response, status, field=None):
    """A 4xx in the API's error shape; `field`, when given, is among the names it lists."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    body = response.get_json()
    assert isinstance(body.get("error"), str) and isinstance(body.get("message"), str), body
    assert isinstance(body.get("fields", {}), dict), body
    if field is not None:
        assert field in names(body["fields"]), (field, body["fields"])
    return body


def client_metadata(metadata):
    """An event's metadata as the client sent it (the server adds its own times to it)."""
    return {k: v for k, v in (metadata or {}).items() if k not in SERVER_METADATA}


def stored_event(store, app_id, item):
    """The telemetry event an event item became, checked to be exactly what was sent."""
    event = store.get_event(app_id, item["eventId"])
    assert event is not None, item["eventId"]
    assert event["eventType"] == item["eventType"]
    assert exact(event["eventData"]) == exact(item.get("eventData", {}))
    assert exact(client_metadata(event["metadata"])) \
        == exact(client_metadata(item.get("metadata", {})))
    return event
