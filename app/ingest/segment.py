"""The Segment HTTP Tracking API's messages turned into native items, for ingest/compat.py.

One function per concern, no flask: `request_items` reads a request's body (one message, or a
batch of them) into native item dicts, which `ingest_messages` validates and stores like a
native batch. What Segment's fields become:

- `messageId` is the eventId (the item's id), so a library's retry is stored once. An id the
  native pattern does not take is replaced by a UUIDv5 of it (the same one on every resend), and
  the sent id is kept in `metadata.messageId`.
- `originalTimestamp`, or else `timestamp`, is `metadata.clientTimestamp`; the request's
  `sentAt` corrects the client's clock (ingest's skew rule).
- `context` is kept in `metadata.context` (a batch's own `context` fills in what a message's
  lacks); `integrations`, `writeKey`, `sentAt`, `_metadata` and `options` are transport and
  are not stored. Nothing but these names changes: the item's payload is the same on every
  retry of a message, which is what keeps a resend a duplicate (analytics.js changes `sentAt`
  and `_metadata` each time it retries).
- track → an event (`event` is the eventType, `properties` the eventData); identify, alias,
  group, page and screen → the native items of those types.
- Keys the stores cannot hold as sent (a leading `$`, a `.`), common in Segment properties and
  traits and context, are escaped rather than refused (compat_rules: a leading "$" becomes
  U+FF04 and every "." U+FF0E, as MongoDB's documentation advises).
- Segment's own limits (32 KB a message, 500 KB a batch), which its libraries keep to, are not
  applied: the compatible settings' wider ones are (COMPAT_MAX_ITEM_BYTES and
  COMPAT_MAX_CONTENT_LENGTH, applied by ingest and the body layer).
- A message that is not valid (an unknown `type`, a track without `event`, a bad id) becomes an
  item the native validators refuse with its reason; the batch's other messages are kept.
"""

import uuid

from ..schemas.fields import ID_RE
from .validate import Rejected, parse_time

# The types of message the Tracking API takes, and analytics.js's one-letter paths for them.
MESSAGE_TYPES = ("track", "identify", "page", "screen", "group", "alias")
SHORT_PATHS = {kind[0]: kind for kind in MESSAGE_TYPES}
# A messageId the native id pattern refuses is named by a UUIDv5 under this namespace.
MESSAGE_ID_NAMESPACE = uuid.UUID("0b7c2f0e-5d0a-4c1e-8e7b-3f6a9d2c4b51")

class RequestRefused(ValueError):
    """A request that is not a Segment message or batch at all (answered 400 as a whole)."""


def _id(value):
    """A Segment id (userId, anonymousId, groupId, previousId): text, or a number as text as
    Segment's libraries send it; None when absent."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


def _event_id(message):
    """The eventId of a message and, when it had to be derived, the messageId as sent."""
    sent = message.get("messageId")
    if sent is None or (isinstance(sent, str) and ID_RE.fullmatch(sent)):
        return sent, None
    if isinstance(sent, int | float) and not isinstance(sent, bool):
        sent = str(sent)
    if not isinstance(sent, str):
        return sent, None  # not text: the validator refuses it with its reason
    return str(uuid.uuid5(MESSAGE_ID_NAMESPACE, sent)), sent


def _metadata(message, batch_context):
    metadata = {}
    client_time = message.get("originalTimestamp") or message.get("timestamp")
    if client_time is not None:
        metadata["clientTimestamp"] = client_time
    context = message.get("context")
    if batch_context and (context is None or isinstance(context, dict)):
        context = {**batch_context, **(context or {})}
    if context is not None:
        metadata["context"] = context
    return metadata


def _put(item, name, value):
    if value is not None:
        item[name] = value


def to_item(message, kind=None, batch_context=None):
    """The native item for one Segment message; `kind` is the type a single-message path
    implies (the message's own `type` wins in a batch)."""
    if not isinstance(message, dict):
        return message  # the validator refuses it: each item must be an object
    kind = message.get("type") or kind
    event_id, sent_id = _event_id(message)
    metadata = _metadata(message, batch_context)
    if sent_id is not None:
        metadata["messageId"] = sent_id
    user_id, anonymous_id = _id(message.get("userId")), _id(message.get("anonymousId"))
    if kind == "track":
        item = {"itemType": "event", "eventId": event_id}
        _put(item, "eventType", message.get("event"))
        item["eventData"] = message.get("properties") or {}
    elif kind in ("identify", "group"):
        item = {"itemType": kind, "eventId": event_id,
                "traits": message.get("traits") or {}}
        if kind == "group":
            _put(item, "groupId", _id(message.get("groupId")))
    elif kind in ("page", "screen"):
        item = {"itemType": kind, "eventId": event_id,
                "properties": message.get("properties") or {}}
        _put(item, "name", message.get("name"))
        _put(item, "category", message.get("category"))
    elif kind == "alias":
        item = {"itemType": "alias", "eventId": event_id}
        _put(item, "previousId", _id(message.get("previousId")))
    else:
        # Refused by the event validator, which names the field: "type: Unknown field."
        item = {"itemType": "event", "eventId": event_id, "type": kind}
    _put(item, "userId", user_id)
    if kind != "alias":
        _put(item, "anonymousId", anonymous_id)
    if item.get("eventId") is None:
        del item["eventId"]
    item["metadata"] = metadata
    return item


def request_items(body, kind=None):
    """The native items of a request body: one message (`kind` its path's type) or a batch
    (`kind` None: `{"batch": [...], "context"?, "sentAt"?}`). Raises RequestRefused when the
    body is not one of these."""
    if not isinstance(body, dict):
        raise RequestRefused("The body must be a JSON object.")
    if kind is not None:
        return [to_item(body, kind)]
    messages = body.get("batch")
    if not isinstance(messages, list):
        raise RequestRefused("A batch needs `batch`, a list of messages.")
    if not messages:
        raise RequestRefused("The batch has no messages.")
    context = body.get("context")
    context = context if isinstance(context, dict) else None
    return [to_item(message, None, context) for message in messages]


def request_sent_at(body):
    """The request's `sentAt` (a batch's own, else its only message's) as a UTC instant, or
    None; RequestRefused when it is not a time."""
    if not isinstance(body, dict):
        return None
    sent_at = body.get("sentAt")
    if sent_at is None and isinstance(body.get("batch"), list) and len(body["batch"]) == 1:
        only = body["batch"][0]
        sent_at = only.get("sentAt") if isinstance(only, dict) else None
    try:
        return parse_time(sent_at, "sentAt")
    except Rejected as exc:
        raise RequestRefused(f"sentAt is not a time: {exc.fields['sentAt'][0]}") from None


def write_key_of(body):
    """The write key sent in the body (`writeKey`, or the first message's), or None."""
    if not isinstance(body, dict):
        return None
    key = body.get("writeKey")
    if key is None and isinstance(body.get("batch"), list) and body["batch"]:
        first = body["batch"][0]
        key = first.get("writeKey") if isinstance(first, dict) else None
    return key if isinstance(key, str) else None
