"""Conflicts: which strategy settles a stale record edit, and resolving open conflicts by hand.

The API and the console both resolve through `resolve_conflict`; the engine opens conflicts and
settles automatic ones with the same documents, so a conflict reads the same wherever it came
from: base, server and client values, the differing `fields`, the strategy and, once settled,
resolution, resolvedBy and resolvedAt.
"""

import json

from ..accounts import audit
from ..schemas.storable import bad_keys
from ..schemas.sync import CONFLICT_RESOLUTIONS
from ..schemas.telemetry import STRATEGIES
from ..store.common import utcnow
from .documents import event_payload, telemetry_document, write_version
from .merge import differing_fields, same


class ConflictError(Exception):
    """A resolution refused; `status` is the HTTP status that says why."""

    status = 400
    code = "bad_request"

    def __init__(self, message, fields=None):
        super().__init__(message)
        self.message = message
        self.fields = fields


class ConflictNotFound(ConflictError):
    status = 404
    code = "not_found"


class ConflictAlreadyResolved(ConflictError):
    status = 409
    code = "already_resolved"


class InvalidResolution(ConflictError):
    status = 400
    code = "validation_error"


def choose_strategy(settings, record_type, requested=None):
    """The item's own strategy, else CONFLICT_STRATEGIES[recordType], else the default."""
    for candidate in (requested, (settings.get("CONFLICT_STRATEGIES") or {}).get(record_type),
                      settings.get("CONFLICT_DEFAULT_STRATEGY")):
        if candidate in STRATEGIES:
            return candidate
    return "merge"


def record_conflict(item, strategy, base, server, client, now, resolution=None):
    """A conflict document for a record edit; settled at once when `resolution` is given."""
    doc = {
        "appId": item["appId"], "itemId": item["itemId"], "userId": item.get("userId"),
        "kind": "record",
        "recordType": item["itemType"], "recordId": item["itemData"]["recordId"],
        "base": base, "server": server, "client": client,
        "fields": differing_fields(server, client), "strategy": strategy,
        "status": "open", "createdAt": now,
    }
    if resolution is not None:
        doc.update(status="resolved", resolution=resolution, resolvedBy=f"sync:{strategy}",
                   resolvedAt=now)
    return doc


def event_conflict(item, stored, now):
    """An open conflict for an eventId that came back with another payload; both are kept."""
    server, client = event_payload(stored), event_payload(item)
    return {
        "appId": item["appId"], "itemId": item["itemId"], "userId": item.get("userId"),
        "kind": "event",
        "recordType": None, "recordId": item["itemData"]["eventId"],
        "base": None, "server": server, "client": client,
        "fields": differing_fields(server, client), "strategy": "manual",
        "status": "open", "createdAt": now,
    }


def _validated(data, settings):
    if not isinstance(data, dict):
        raise InvalidResolution("A merged resolution needs `data`: a JSON object.",
                                {"data": ["Give the merged value as a JSON object."]})
    problems = bad_keys(data, "data", {})
    if problems:
        raise InvalidResolution("The merged data has keys that cannot be stored.", problems)
    size = len(json.dumps(data, separators=(",", ":")))
    limit = int(settings.get("MAX_ITEM_BYTES", 32 * 1024))
    if size > limit:
        raise InvalidResolution(f"The merged data is {size} bytes; the limit is {limit}.",
                                {"data": [f"At most {limit} bytes of JSON."]})
    return data


def resolve_conflict(store, settings, app_id, conflict_id, resolution, data=None, actor="api"):
    """Settle an open conflict with the server's, the client's or a merged value.

    A record gets the chosen value as its next version (unless it already holds it); an event
    keeps the chosen payload. The conflict is marked resolved, its queue item done, and the
    resolution audited. app_id None means any app (operators). Raises ConflictNotFound,
    ConflictAlreadyResolved or InvalidResolution; returns the resolved conflict.
    """
    if resolution not in CONFLICT_RESOLUTIONS:
        raise InvalidResolution(f"resolution must be one of {', '.join(CONFLICT_RESOLUTIONS)}.",
                                {"resolution": [f"One of {', '.join(CONFLICT_RESOLUTIONS)}."]})
    if resolution == "merged":
        data = _validated(data, settings)
    now = utcnow()
    with store.unit_of_work():
        conflict = store.get_conflict(app_id, conflict_id)
        if conflict is None:
            raise ConflictNotFound(f"No conflict {conflict_id!r}.")
        if conflict["status"] != "open":
            raise ConflictAlreadyResolved(
                f"Conflict {conflict_id!r} was already resolved by {conflict.get('resolvedBy')}.")
        if conflict["kind"] == "event":
            details = _resolve_event(store, conflict, resolution, data, now)
        else:
            details = _resolve_record(store, conflict, resolution, data, now, actor)
        if not store.close_conflict(conflict["id"], resolution, actor, now):
            raise ConflictAlreadyResolved(f"Conflict {conflict_id!r} was resolved meanwhile.")
        store.set_item_status(conflict["appId"], conflict["itemId"], "done", now)
    audit.record(store, actor, "conflict.resolve", f"conflict:{conflict['id']}",
                 appId=conflict["appId"], kind=conflict["kind"], itemId=conflict["itemId"],
                 recordType=conflict.get("recordType"), recordId=conflict.get("recordId"),
                 resolution=resolution, **details)
    return dict(conflict, status="resolved", resolution=resolution, resolvedBy=actor,
                resolvedAt=now)


def _resolve_record(store, conflict, resolution, data, now, actor):
    chosen = {"server": conflict["server"], "client": conflict["client"],
              "merged": data}[resolution]
    key = (conflict["appId"], conflict["recordType"], conflict["recordId"])
    current = store.get_record(*key)
    if current is not None and same(current["data"], chosen):
        return {"version": current["version"]}
    written = write_version(store, key, current, chosen, now, updated_by=actor,
                            item_id=conflict["itemId"] if resolution != "server" else None)
    return {"version": written["version"]}


def _resolve_event(store, conflict, resolution, data, now):
    if resolution == "server":
        return {}
    item = store.get_queue_item(conflict["appId"], conflict["itemId"])
    kept = telemetry_document(item, now)
    if resolution == "merged":
        kept["eventData"] = data
    changes = {k: kept[k] for k in ("userId", "eventType", "eventData", "metadata",
                                    "payloadHash", "timestamp")}
    store.replace_event(conflict["appId"], conflict["recordId"], changes)
    return {}


def get_conflict(store, app_id, conflict_id):
    """One conflict of an app (any app when app_id is None), or None."""
    return store.get_conflict(app_id, conflict_id)


def list_conflicts(store, app_id, status=None, limit=50, cursor=None):
    """A page of conflicts, newest first: (conflicts, next cursor or None)."""
    rows = store.list_conflicts(app_id=app_id, status=status, limit=limit + 1, before_id=cursor)
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (str(rows[-1]["id"]) if more and rows else None)
