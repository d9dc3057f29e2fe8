"""PostHog capture: the messages posthog-python, posthog-node and posthog-js send, turned into
native items (events, page and screen views, identify, alias, group) for the compatible ingest.

The body has been read (inflated, base64-decoded) and parsed by the API layer; this module only
says where the messages and the key are, and what each message means. Each message becomes one
native item, and a message that also sets person properties (`$set`/`$set_once` on any event)
a second one, an identify. Invalid messages are passed on as they are, for the native
validators to refuse with their reasons (the batch log keeps them).

PostHog's property names start with "$" (`$current_url`, `$lib`) and may hold ".", which the
native store refuses in keys: they are kept escaped (ingest escapes them: a leading "$" becomes
"＄", U+FF04, and every "." becomes "．", U+FF0E, at every level of nesting).
"""

import uuid
from datetime import UTC, datetime, timedelta

from marshmallow import ValidationError

from ..schemas.storable import escaped_key
from .compat import ingest_messages, messages_batch_id
from .validate import CLIENT_TIME

PROTOCOL = "posthog"
# Ids of the second item a message makes (an event's $set as an identify): UUIDv5 names of the
# message's uuid under this namespace, so a resent message makes the same id.
SECOND_ITEM_NAMESPACE = uuid.UUID("3c9a7d52-58a4-4e0f-9b0e-5f1f0e6a2c41")
# Properties that say who, or hold the key, rather than describe the event: not kept in it.
NOT_EVENT_DATA = frozenset({"distinct_id", "token", "api_key", "$set", "$set_once"})


class CaptureError(Exception):
    """A request refused as a whole (no messages where messages should be)."""

    def __init__(self, status, code, message):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def messages_of(payload):
    """The messages of a capture body and its `sent_at`: a batch (`{"batch": [...]}`), a list,
    or one message."""
    if isinstance(payload, list):
        return payload, None
    if not isinstance(payload, dict):
        raise CaptureError(400, "invalid_payload",
                           "The body must be a JSON object or a list of events.")
    sent_at = payload.get("sent_at")
    if "batch" in payload:
        batch = payload["batch"]
        if not isinstance(batch, list):
            raise CaptureError(400, "invalid_payload", "`batch` must be a list of events.")
        return batch, sent_at
    if "data" in payload and "event" not in payload:
        data = payload["data"]
        return (data if isinstance(data, list) else [data]), sent_at
    return [payload], sent_at


def key_of(payload, messages, query_key=None):
    """The project key a capture body carries: `api_key` or `token` in the body, else in the
    query, else on its first message (posthog-js puts it in `properties.token`)."""
    if isinstance(payload, dict):
        for name in ("api_key", "token"):
            if isinstance(payload.get(name), str) and payload[name]:
                return payload[name]
    if query_key:
        return query_key
    for message in messages[:1]:
        if not isinstance(message, dict):
            continue
        properties = message.get("properties")
        for holder in (message, properties if isinstance(properties, dict) else {}):
            for name in ("api_key", "token", "$token"):
                if isinstance(holder.get(name), str) and holder[name]:
                    return holder[name]
    return None


def _text(value):
    """An id as text: posthog clients send strings, sometimes numbers."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return str(value)
    return value


def who(message, properties):
    """(userId, anonymousId) of a message: its distinct_id is an anonymous id when posthog-js
    says the visitor is not identified (`$is_identified: false`), or, from a client that does
    not say, when the event is personless (`$process_person_profile: false`, posthog-python
    without a distinct_id); otherwise it names the user, as server libraries' ids do."""
    distinct_id = _text(message.get("distinct_id", properties.get("distinct_id")))
    if message.get("event") == "$identify":
        anonymous = _text(properties.get("$anon_distinct_id"))
        if anonymous == distinct_id or not isinstance(anonymous, str) or not anonymous:
            anonymous = None
        return distinct_id, anonymous
    identified = properties.get("$is_identified")
    if identified is False or (identified is None
                               and properties.get("$process_person_profile") is False):
        return None, distinct_id
    return distinct_id, None


def _client_time(message, received_at):
    """The message's time by the client's clock: `timestamp`, or `offset` ms before now."""
    timestamp = message.get("timestamp")
    if timestamp is not None:
        return timestamp
    offset = message.get("offset")
    if isinstance(offset, int | float) and not isinstance(offset, bool) and offset >= 0:
        try:
            return (received_at - timedelta(milliseconds=offset)).isoformat()
        except OverflowError:
            return None
    return None


def _person_updates(message, properties):
    """($set, $set_once) of a message: top level (posthog-js, posthog-python) over properties
    (posthog-node, older posthog-js); each None when absent or empty."""
    if not ("$set" in message or "$set_once" in message or "$set" in properties
            or "$set_once" in properties):
        return None, None
    found = []
    for name in ("$set", "$set_once"):
        merged = {}
        for holder in (properties, message):
            value = holder.get(name)
            if isinstance(value, dict):
                merged.update(value)
            elif value is not None:
                merged = value  # not an object: passed on for the validator to refuse
                break
        found.append(merged or None)
    return found


def _identified(item, event_id):
    """The item with its eventId, when the message has one (else the native path derives one
    from the batch and the item's place in it)."""
    if event_id is not None:
        item["eventId"] = event_id
    else:
        item.pop("eventId", None)
    return item


def _second_id(message_id, kind):
    if not isinstance(message_id, str):
        return None
    return str(uuid.uuid5(SECOND_ITEM_NAMESPACE, f"{message_id}/{kind}"))


def items_of(message, received_at):
    """The native items one PostHog message stands for (one, or two when an event also sets
    person properties)."""
    if not isinstance(message, dict):
        return [message]
    properties = message.get("properties")
    if properties is None:
        properties = {}
    if not isinstance(properties, dict):
        return [_identified({"eventType": message.get("event"), "eventData": properties},
                            message.get("uuid"))]
    event = message.get("event")
    user_id, anonymous_id = who(message, properties)
    base = _identified({}, _text(message.get("uuid")))
    if user_id is not None:
        base["userId"] = user_id
    if anonymous_id is not None:
        base["anonymousId"] = anonymous_id
    # ($lib and $lib_version stay in the properties, which name the library.)
    metadata = {"clientTimestamp": _client_time(message, received_at)}
    base["metadata"] = metadata
    set_traits, set_once = _person_updates(message, properties)

    if event == "$create_alias":
        # posthog-python and posthog-js send the earlier id as distinct_id and the new one as
        # alias; posthog-node the other way round. The native alias links either direction.
        previous = _text(properties.get("distinct_id", message.get("distinct_id")))
        return [_identified({"itemType": "alias", "previousId": previous,
                             "userId": _text(properties.get("alias")), "metadata": metadata},
                            base.get("eventId"))]
    if event in ("$identify", "$set", "$set_once"):
        item = {"itemType": "identify", **base}
        if set_traits is not None:
            item["traits"] = set_traits
        if set_once is not None:
            item["traitsOnce"] = set_once
        return [item]
    if event == "$groupidentify":
        group_type, group_key = properties.get("$group_type"), properties.get("$group_key")
        group_id = (f"{group_type}:{_text(group_key)}" if isinstance(group_type, str)
                    and isinstance(_text(group_key), str) else None)
        item = {"itemType": "group", **base, "groupId": group_id}
        traits = properties.get("$group_set")
        if traits is not None:
            item["traits"] = traits
        return [item]

    # PostHog's own properties ($lib, $current_url…) are named here as the store keeps them
    # (escaped_key), in the copy made anyway; ingest escapes whatever nested key still needs it.
    data = {escaped_key(key) if key[:1] == "$" or "." in key else key: value
            for key, value in properties.items() if key not in NOT_EVENT_DATA}
    if event == "$pageview":
        item = {"itemType": "page", **base, "properties": data}
        title = properties.get("title")
        if isinstance(title, str) and title:
            item["name"] = title
    elif event == "$screen":
        item = {"itemType": "screen", **base, "properties": data}
        name = properties.get("$screen_name")
        if isinstance(name, str) and name:
            item["name"] = name
    else:
        item = {"itemType": "event", **base, "eventType": event, "eventData": data}
    items = [item]
    if set_traits is not None or set_once is not None:
        person = _identified({"itemType": "identify", **base},
                             _second_id(base.get("eventId"), "set"))
        if set_traits is not None:
            person["traits"] = set_traits
        if set_once is not None:
            person["traitsOnce"] = set_once
        items.append(person)
    return items


def batch_id_for(messages):
    """The batch id of a request: a hash of its messages, so that a library's resend of the
    same messages (with a new `sent_at`) is the same batch, answered as it was the first time,
    and a message without a uuid gets the same derived eventId each time."""
    return messages_batch_id(PROTOCOL, messages)


def sent_time(value):
    """The body's `sent_at` as a UTC instant, for the skew correction; None when absent or not
    a time (it only corrects clocks: a message is not refused for it)."""
    if not isinstance(value, str):
        return None
    try:
        return CLIENT_TIME.deserialize(value)
    except ValidationError:
        return None


def capture(store, settings, app_id, messages, sent_at=None, received_at=None):
    """Store the valid messages of a capture request; the native batch summary."""
    if not messages:
        raise CaptureError(400, "no_events", "The request holds no events.")
    received_at = received_at or datetime.now(UTC)
    try:
        items = [item for message in messages for item in items_of(message, received_at)]
    except RecursionError:
        raise CaptureError(400, "too_deep",
                           "A message nests deeper than any store keeps.") from None
    batch_id = batch_id_for(messages)
    return ingest_messages(store, settings, app_id, items, protocol=PROTOCOL, batch_id=batch_id,
                           sent_at=sent_time(sent_at))
