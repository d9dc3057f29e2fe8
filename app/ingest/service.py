"""The ingest service: batches and single events in, per-item outcomes out, committed first."""

import logging

from ..store.common import utcnow
from .queue import enqueue
from .validate import (
    VERB_DOCUMENTS,
    Envelope,
    IngestRules,
    Rejected,
    client_item_id,
    event_document,
    item_document,
)

log = logging.getLogger("prepmate.api")

# The batch-log sources of the compatible protocols (ingest/compat.py PROTOCOLS).
COMPAT_SOURCES = ("segment", "posthog")


class IngestError(Exception):
    """A request refused as a whole; `status` and `code` say how to answer it."""

    def __init__(self, status, code, message, fields=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields


def _validate(raw_items, envelope, rules):
    """Queue documents of the valid items, and per-index results of the rejected ones."""
    docs, results = [], []
    for index, raw in enumerate(raw_items):
        try:
            doc = item_document(raw, index, envelope, rules)
        except Rejected as exc:
            results.append({"index": index, "itemId": client_item_id(raw), "status": "rejected",
                            "fields": exc.fields})
        else:
            docs.append((index, doc))
            results.append(None)
    return docs, results


def _summary(batch_id, results):
    counts = {"accepted": 0, "duplicate": 0, "rejected": 0, "suppressed": 0}
    for result in results:
        counts[result["status"]] += 1
    return {"batchId": batch_id, "accepted": counts["accepted"],
            "duplicates": counts["duplicate"], "rejected": counts["rejected"],
            "suppressed": counts["suppressed"], "results": results}


def _replayed(stored, raw_items):
    """The first answer to a resent batchId, provided it carries the same items.

    An erasure takes its person's items out of the results of the batch logs that held them,
    keeping the counts: an item whose result is gone from such a log was erased, and a resend
    of it is answered `duplicate` (as its erased id is at ingest)."""
    results = stored.get("results") or []
    if len(results) < (stored.get("itemCount") or 0) == len(raw_items):
        by_index = {result.get("index"): result for result in results}
        answer = []
        for index, raw in enumerate(raw_items):
            result = by_index.get(index)
            if result is None:
                result = {"index": index, "itemId": client_item_id(raw), "status": "duplicate"}
            elif client_item_id(raw) not in (None, result.get("itemId")):
                break
            answer.append(result)
        else:
            return _summary(stored["batchId"], answer)
    same = len(results) == len(raw_items) and all(
        client_item_id(raw) in (None, result.get("itemId"))
        for raw, result in zip(raw_items, results, strict=True)
    )
    if not same:
        raise IngestError(409, "batch_id_reused",
                          f"batchId {stored['batchId']!r} was already used for other items; "
                          "make a new batchId for a new batch.")
    return _summary(stored["batchId"], results)


def ingest_batch(store, settings, app_id, batch, rules=None, *, protocol=None):
    """Store a batch's valid items as pending queue entries; answer per item.

    `batch` is the loaded envelope (batchId, userId?, clientId?, sentAt?, items). Valid items are
    kept even when others are rejected; a batch with no valid item is refused as a whole. A resent
    batchId answers its first answer and stores nothing. With a compatible `protocol`
    (ingest/compat.py) the protocols' item limit applies, the log's source is the protocol, and a
    batch with no valid item is logged rather than refused.
    """
    rules = rules or IngestRules.from_settings(settings)
    raw_items = batch["items"]
    if not raw_items:
        raise IngestError(400, "validation_error", "The batch has no items.",
                          {"items": ["Give at least one item."]})
    limit = int(settings["COMPAT_MAX_BATCH_ITEMS" if protocol else "MAX_BATCH_ITEMS"])
    if len(raw_items) > limit:
        raise IngestError(413, "too_many_items",
                          f"The batch has {len(raw_items)} items; the limit is {limit}.",
                          {"items": [f"At most {limit} items per batch."]})
    started = utcnow()
    envelope = Envelope(app_id=app_id, received_at=started, batch_id=batch["batchId"],
                        user_id=batch.get("userId"), anonymous_id=batch.get("anonymousId"),
                        client_id=batch.get("clientId"),
                        sent_at=batch.get("sentAt"), source=protocol)
    docs, results = _validate(raw_items, envelope, rules)
    if not docs and protocol is None:
        # Refused whatever was stored under this batchId before: a resend of a batch that was
        # stored carries the items that were valid then.
        raise IngestError(400, "validation_error", "Every item of the batch was rejected.",
                          {"items": {str(r["index"]): r["fields"] for r in results}})

    def answer(outcomes):
        for (index, doc), (status, _stored_id) in zip(docs, outcomes, strict=True):
            results[index] = {"index": index, "itemId": doc["itemId"], "status": status}
        return _summary(batch["batchId"], results)

    def make_batch_log(outcomes):
        summary = answer(outcomes)
        return {
            "batchId": batch["batchId"], "userId": batch.get("userId"),
            "clientId": batch.get("clientId"), "source": protocol or "client",
            "itemCount": len(raw_items), "successCount": summary["accepted"],
            "failureCount": summary["rejected"], "duplicateCount": summary["duplicates"],
            "conflictCount": 0, "rejectedCount": summary["rejected"],
            "startTime": started, "endTime": utcnow(), "sentAt": batch.get("sentAt"),
            # (a native batch with every item rejected is refused above, never logged). A
            # suppressed item is no error: an erased person's SDK resending must not fill the
            # console's errors; the log's results name them, and itemCount less the other
            # counts is their number (batch_status).
            "status": ("success" if not summary["rejected"]
                       else "partial" if (summary["accepted"] or summary["duplicates"]
                                          or summary["suppressed"])
                       else "error"),
            "errors": [{"index": r["index"], "itemId": r["itemId"], "fields": r["fields"]}
                       for r in results if r["status"] == "rejected"],
            "results": results,
        }

    outcomes, stored = enqueue(
        store, app_id, [doc for _index, doc in docs], batch_id=batch["batchId"],
        make_batch_log=make_batch_log, max_open=int(settings["SYNC_MAX_QUEUE"]),
        settings=settings, batch_user_id=batch.get("userId"),
    )
    if outcomes is None:
        return _replayed(stored, raw_items)
    if stored is None:
        # An erased batchId: every valid item answers `duplicate`, nothing was written.
        return answer(outcomes)
    log.debug("batch %s of %s: %d items", batch["batchId"], app_id, len(raw_items))
    return _summary(batch["batchId"], stored["results"])


def _track_one(store, settings, app_id, body, make_document, what, rules, extra=None):
    """Store one call's item (an event, or a verb's) as a pending queue entry; answer
    {eventId, status}. `body` is what its endpoint loaded (sentAt included)."""
    rules = rules or IngestRules.from_settings(settings)
    envelope = Envelope(app_id=app_id, received_at=utcnow(), sent_at=body.get("sentAt"))
    raw = {k: v for k, v in body.items() if k != "sentAt"}
    if extra:
        raw.update(extra)
    try:
        doc = make_document(raw, 0, envelope, rules)
    except Rejected as exc:
        raise IngestError(400, "validation_error", f"The {what} is invalid.",
                          exc.fields) from None
    [(status, _stored_id)], _log = enqueue(store, app_id, [doc],
                                           max_open=int(settings["SYNC_MAX_QUEUE"]),
                                           settings=settings)
    return {"eventId": doc["itemId"], "status": status}


def track_event(store, settings, app_id, event, rules=None):
    """Store one event as a pending queue entry; answer {eventId, status}."""
    return _track_one(store, settings, app_id, event, event_document, "event", rules)


def track_verb(store, settings, app_id, verb, body, rules=None):
    """Store one identity verb's call (identify, alias, group, page, screen) like an event."""
    return _track_one(store, settings, app_id, body, VERB_DOCUMENTS[verb], f"{verb} call",
                      rules, {"itemType": verb})


def identify(store, settings, app_id, body, rules=None):
    """Who a user or visitor is: its traits; naming both ids links the anonymous one."""
    return track_verb(store, settings, app_id, "identify", body, rules)


def alias(store, settings, app_id, body, rules=None):
    """previousId is userId from now on."""
    return track_verb(store, settings, app_id, "alias", body, rules)


def group(store, settings, app_id, body, rules=None):
    """The person belongs to groupId, which gets the traits."""
    return track_verb(store, settings, app_id, "group", body, rules)


def page(store, settings, app_id, body, rules=None):
    """A page view, stored as the event page_viewed."""
    return track_verb(store, settings, app_id, "page", body, rules)


def screen(store, settings, app_id, body, rules=None):
    """A screen view, stored as the event screen_viewed."""
    return track_verb(store, settings, app_id, "screen", body, rules)


def batch_status(store, app_id, batch_id):
    """A client batch's log with each item's ingest outcome and where it is now; None if unknown."""
    stored = store.get_batch_log(app_id, batch_id)
    if stored is None:
        return None
    if stored.get("source") in ("client", *COMPAT_SOURCES):
        # Every item of an ingested batch is accepted, a duplicate, rejected or suppressed.
        stored["suppressedCount"] = max(0, (stored.get("itemCount") or 0)
                                        - (stored.get("successCount") or 0)
                                        - (stored.get("failureCount") or 0)
                                        - (stored.get("duplicateCount") or 0))
    now = {item["itemId"]: item for item in store.batch_items(app_id, batch_id)}
    for result in stored.get("results") or []:
        item = now.get(result.get("itemId"))
        if item is not None and result["status"] == "accepted":
            result["syncStatus"] = item["status"]
            result["lastError"] = item.get("lastError")
    return stored
