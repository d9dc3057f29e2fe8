"""What the hostile tests check on every answer: the error shape, and that nothing was stored."""

import re
from datetime import UTC, datetime

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
