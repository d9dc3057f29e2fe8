"""Turning one raw event or record item into a queue document, or into the reasons it is refused."""

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property

import orjson
from marshmallow import ValidationError

from ..schemas.events import ANY_EVENT_DATA, EVENT_DATA_SCHEMAS
from ..schemas.fastload import FastLoader
from ..schemas.storable import bad_keys, escaped, keys_storable
from ..schemas.telemetry import (
    VERB_ITEM_SCHEMAS,
    VIEW_EVENT_TYPES,
    EventItemSchema,
    MetadataSchema,
    RecordItemSchema,
)
from ..store.common import EncodedJson, uuid7

EVENT_ITEM = FastLoader(EventItemSchema())
RECORD_ITEM = FastLoader(RecordItemSchema())
VERB_ITEMS = {verb: FastLoader(schema()) for verb, schema in VERB_ITEM_SCHEMAS.items()}
EVENT_DATA = {event_type: FastLoader(schema) for event_type, schema in EVENT_DATA_SCHEMAS.items()}
ANY_DATA = FastLoader(ANY_EVENT_DATA)
# Derived eventIds (an item without one) are UUIDv5 names under this namespace.
DERIVED_ID_NAMESPACE = uuid.UUID("6f1d8c2e-3b7a-4f5e-9c1d-2a8b7e6f5d4c")
# metadata.clientTimestamp is read by the metadata schema's field (UtcDateTime, as every time the
# API takes); the rest of metadata is kept as sent.
CLIENT_TIME = MetadataSchema().fields["clientTimestamp"]


@dataclass(frozen=True)
class IngestRules:
    """The limits and switches ingest applies, read once from the settings."""

    max_item_bytes: int = 32 * 1024
    strict_event_types: bool = False
    max_future_skew: timedelta = timedelta(seconds=300)
    # Apps whose items of the verbs' itemTypes stay record types (LEGACY_RECORD_TYPE_APPS);
    # "*" names every app.
    legacy_record_type_apps: frozenset = frozenset()
    # Keys the store refuses in free-form data are escaped rather than refused (the compatible
    # protocols, whose properties use `$` and `.` freely: ingest/compat.py).
    escape_keys: bool = False

    @classmethod
    def from_settings(cls, settings):
        return cls(
            max_item_bytes=int(settings["MAX_ITEM_BYTES"]),
            strict_event_types=bool(settings["STRICT_EVENT_TYPES"]),
            max_future_skew=timedelta(seconds=int(settings["MAX_FUTURE_SKEW_SECONDS"])),
            legacy_record_type_apps=legacy_apps(settings.get("LEGACY_RECORD_TYPE_APPS")),
        )

    def verbs_are_record_types(self, app_id):
        """Whether the app keeps identify/alias/group/page/screen items as record types."""
        apps = self.legacy_record_type_apps
        return bool(apps) and ("*" in apps or app_id in apps)


def legacy_apps(value):
    """LEGACY_RECORD_TYPE_APPS as a set of app ids: a comma-separated text, or a list."""
    if not value:
        return frozenset()
    if isinstance(value, str):
        value = value.split(",")
    return frozenset(name.strip() for name in value if name and name.strip())


@dataclass(frozen=True)
class Envelope:
    """What a request says about all of its items."""

    app_id: str
    received_at: datetime
    batch_id: str | None = None
    user_id: str | None = None
    anonymous_id: str | None = None
    client_id: str | None = None
    sent_at: datetime | None = None
    # The compatible protocol the request came through (ingest/compat.py); None: the native API.
    source: str | None = None

    @cached_property
    def received_iso(self):
        return self.received_at.isoformat()

    @cached_property
    def sent_iso(self):
        return self.sent_at.isoformat() if self.sent_at else None


def field_name(name):
    """A field's name as problems are answered and logged: a NUL written as \\u0000, since
    MongoDB cannot hold it in a key (the batch log keeps problems by name)."""
    return name.replace("\x00", "\\u0000") if "\x00" in name else name


def storable_names(problems):
    """Problems keyed by field (nested per marshmallow) with every name made storable."""
    if not isinstance(problems, dict):
        return problems
    return {field_name(str(key)): storable_names(value) for key, value in problems.items()}


class Rejected(Exception):
    """An item that cannot be stored; `fields` names each problem."""

    def __init__(self, fields):
        super().__init__(fields)
        self.fields = storable_names(fields)


def parse_time(value, field):
    """An ISO 8601 time with a UTC offset as the UTC instant it names (None when absent)."""
    if value is None:
        return None
    try:
        return CLIENT_TIME.deserialize(value)
    except ValidationError as exc:
        raise Rejected({field: exc.messages}) from None


def event_time(client_ts, envelope, rules):
    """The server's best estimate of when an event happened, and the measured client skew.

    With sentAt the client's clock offset is removed (receivedAt - (sentAt - clientTimestamp));
    a time still beyond receivedAt plus the allowed skew is clamped to receivedAt, and so is one
    the correction takes out of the calendar. All three are UTC instants (UtcDateTime), so the
    result is one too, and every store can read it back. It is kept to the millisecond, as
    MongoDB keeps times and as SQLite's julianday() reads them (which rounds
    9999-12-31T23:59:59.9995 past the calendar's end), so both stores hold the same time.
    """
    received = envelope.received_at
    skew_ms = None
    if client_ts is None:
        return received, skew_ms, False
    try:
        if envelope.sent_at is not None:
            skew = envelope.sent_at - received
            skew_ms = round(skew.total_seconds() * 1000)
            timestamp = client_ts - skew
        else:
            timestamp = client_ts
    except OverflowError:  # a clock so wrong the correction leaves the calendar
        return received, skew_ms, True
    if timestamp > received + rules.max_future_skew:
        return received, skew_ms, True
    return timestamp.replace(microsecond=timestamp.microsecond // 1000 * 1000), skew_ms, False


def server_meta(client_ts, envelope, rules):
    """What the server adds to an item's metadata: its own clock and the corrected time."""
    timestamp, skew_ms, clamped = event_time(client_ts, envelope, rules)
    return {
        "receivedAt": envelope.received_iso,
        "timestamp": envelope.received_iso if timestamp is envelope.received_at
        else timestamp.isoformat(),
        "sentAt": envelope.sent_iso, "skewMs": skew_ms, "clamped": clamped,
    }


def encode(value):
    """Canonical JSON text (sorted keys, compact, UTF-8) carrying its value.

    Subclasses of JSON types are refused (the parser reads an integer outside 64 bits as one),
    so nothing is stored that a store cannot hold exactly.
    """
    try:
        text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_SUBCLASS)
    except TypeError:
        raise Rejected({"_item": [
            "Holds a number outside the 64-bit integer range, which no store keeps exactly."]},
        ) from None
    return EncodedJson(text.decode(), value)


def payload_hash(user_id, item_type, text):
    return hashlib.blake2b(f"{user_id}\x1f{item_type}\x1f{text}".encode(),
                           digest_size=16).hexdigest()


def storable_fields(loaded, names, rules):
    """Refuse (Rejected, naming each key) what a store cannot hold in an item's free-form
    fields `names`; with rules.escape_keys, `$`-prefixed and dotted keys are escaped first.
    The common case, nothing to refuse, walks each field once and names no path."""
    for name in names:
        if name in loaded and not keys_storable(loaded[name]):
            break
    else:
        return
    present = [name for name in names if name in loaded]
    if rules.escape_keys:
        for name in present:
            loaded[name] = escaped(loaded[name])
        if all(keys_storable(loaded[name]) for name in present):
            return
    problems = {}
    for name in present:
        bad_keys(loaded[name], name, problems)
    if problems:
        raise Rejected(problems)


def load(loader, raw):
    if not isinstance(raw, dict):
        raise Rejected({"_item": ["Each item must be a JSON object."]})
    try:
        return loader(raw)
    except ValidationError as exc:
        raise Rejected(exc.messages) from None


MISSING_ID = {"userId": [
    "Missing: give userId or anonymousId, on the item or on the batch."]}


def identity(loaded, envelope):
    """The item's (userId, anonymousId), the batch's as defaults; an anonymousId equal to the
    userId is the user's own id (None). Rejected when both are missing."""
    user_id = loaded.get("userId", envelope.user_id)
    anonymous_id = loaded.get("anonymousId", envelope.anonymous_id)
    if anonymous_id is not None and anonymous_id == user_id:
        anonymous_id = None
    if user_id is None and anonymous_id is None:
        raise Rejected(MISSING_ID)
    return user_id, anonymous_id


def queue_document(item_id, item_type, item_data, meta, loaded, envelope, rules,
                   user_id=None):
    """The pending queue entry for a validated item. Its userId (the backlog's key) is the
    item's userId, else its anonymousId (`user_id` when the caller has read them)."""
    if user_id is None:
        user_id = loaded.get("userId", envelope.user_id)
        if user_id is None:
            user_id = loaded.get("anonymousId", envelope.anonymous_id)
            if user_id is None:
                raise Rejected(MISSING_ID)
    text = encode(item_data)
    size = len(text) if text.isascii() else len(text.encode())
    if size > rules.max_item_bytes:
        raise Rejected({"_item": [
            f"Item is {size} bytes of JSON; the limit is {rules.max_item_bytes}."]})
    now = envelope.received_at
    return {
        "appId": envelope.app_id, "itemId": item_id, "userId": user_id, "itemType": item_type,
        "itemData": text, "meta": meta, "status": "pending",
        "priority": loaded.get("priority", 0),
        "conflictResolution": loaded.get("conflictResolution"), "attempts": 0,
        "nextAttemptAt": now, "batchId": envelope.batch_id, "createdAt": now, "updatedAt": now,
        "payloadHash": payload_hash(user_id, item_type, text),
        "clientId": loaded.get("clientId", envelope.client_id), "seq": loaded.get("seq"),
        "recordId": loaded.get("recordId"), "conflictOf": None, "source": envelope.source,
    }


def event_document(raw, index, envelope, rules):
    """Validate an event (a batch item or a tracked event) into its queue entry."""
    loaded = load(EVENT_ITEM, raw)
    loaded.setdefault("eventData", {})
    loaded.setdefault("metadata", {})
    event_type = loaded["eventType"]
    data_loader = EVENT_DATA.get(event_type)
    if data_loader is None:
        if rules.strict_event_types:
            raise Rejected({"eventType": [
                f"Unknown event type {event_type!r} (STRICT_EVENT_TYPES is on)."]})
        data_loader = ANY_DATA
    storable_fields(loaded, ("eventData", "metadata"), rules)
    try:
        # Validated, never rewritten: what is stored is what was sent (85 stays 85, not 85.0).
        data_loader(loaded["eventData"])
    except ValidationError as exc:
        raise Rejected({"eventData": exc.messages}) from None
    event_data, metadata = loaded["eventData"], loaded["metadata"]
    client_ts = parse_time(metadata.get("clientTimestamp"), "metadata.clientTimestamp")
    event_id = loaded.get("eventId") or loaded.get("itemId")
    if event_id is None:
        event_id = item_event_id(loaded, index, envelope)
    meta = server_meta(client_ts, envelope, rules)
    item_data = {"eventId": event_id, "eventType": event_type, "eventData": event_data,
                 "metadata": metadata}
    if "anonymousId" not in loaded and envelope.anonymous_id is None:
        return queue_document(event_id, "event", item_data, meta, loaded, envelope, rules)
    user_id, anonymous_id = identity(loaded, envelope)
    if anonymous_id is not None:
        item_data["userId"] = user_id
        item_data["anonymousId"] = anonymous_id
    return queue_document(event_id, "event", item_data, meta, loaded, envelope, rules,
                          user_id or anonymous_id)


def item_event_id(loaded, index, envelope):
    """The eventId of an event or verb item: its own, else derived from the batch and the
    item's index (a resent batch keeps it), else a new one."""
    event_id = loaded.get("eventId") or loaded.get("itemId")
    if event_id is None:
        event_id = (str(uuid.uuid5(DERIVED_ID_NAMESPACE, f"{envelope.batch_id}/{index}"))
                    if envelope.batch_id is not None else uuid7())
    return event_id


def _verb_common(verb, raw, envelope, rules, storable):
    """Load a verb item and check its free-form fields (`storable`, besides metadata);
    returns (loaded, metadata, server meta's client time)."""
    loaded = load(VERB_ITEMS[verb], raw)
    loaded.setdefault("metadata", {})
    storable_fields(loaded, ("metadata", *storable), rules)
    metadata = loaded["metadata"]
    return loaded, metadata, parse_time(metadata.get("clientTimestamp"),
                                        "metadata.clientTimestamp")


def identify_document(raw, index, envelope, rules):
    """An identify item's queue entry (itemType identify, no recordId)."""
    loaded, metadata, client_ts = _verb_common("identify", raw, envelope, rules,
                                               ("traits", "traitsOnce"))
    user_id, anonymous_id = identity(loaded, envelope)
    event_id = item_event_id(loaded, index, envelope)
    item_data = {"eventId": event_id, "userId": user_id, "anonymousId": anonymous_id,
                 "traits": loaded.get("traits", {}), "traitsOnce": loaded.get("traitsOnce", {}),
                 "metadata": metadata}
    return queue_document(event_id, "identify", item_data,
                          server_meta(client_ts, envelope, rules), loaded, envelope, rules,
                          user_id or anonymous_id)


def alias_document(raw, index, envelope, rules):
    """An alias item's queue entry: previousId is userId from now on."""
    loaded, metadata, client_ts = _verb_common("alias", raw, envelope, rules, ())
    event_id = item_event_id(loaded, index, envelope)
    item_data = {"eventId": event_id, "userId": loaded["userId"],
                 "previousId": loaded["previousId"], "metadata": metadata}
    return queue_document(event_id, "alias", item_data, server_meta(client_ts, envelope, rules),
                          loaded, envelope, rules, loaded["userId"])


def group_document(raw, index, envelope, rules):
    """A group item's queue entry: the person joins groupId, which gets the traits."""
    loaded, metadata, client_ts = _verb_common("group", raw, envelope, rules, ("traits",))
    user_id, anonymous_id = identity(loaded, envelope)
    event_id = item_event_id(loaded, index, envelope)
    item_data = {"eventId": event_id, "userId": user_id, "anonymousId": anonymous_id,
                 "groupId": loaded["groupId"], "traits": loaded.get("traits", {}),
                 "metadata": metadata}
    return queue_document(event_id, "group", item_data, server_meta(client_ts, envelope, rules),
                          loaded, envelope, rules, user_id or anonymous_id)


def view_document(verb, raw, index, envelope, rules):
    """A page or screen item's queue entry: the event page_viewed or screen_viewed, whose
    eventData is the properties plus name and category when given."""
    loaded, metadata, client_ts = _verb_common(verb, raw, envelope, rules, ("properties",))
    user_id, anonymous_id = identity(loaded, envelope)
    event_data = dict(loaded.get("properties", {}))
    for name in ("name", "category"):
        if name in loaded:
            event_data[name] = loaded[name]
    event_id = item_event_id(loaded, index, envelope)
    item_data = {"eventId": event_id, "eventType": VIEW_EVENT_TYPES[verb],
                 "eventData": event_data, "metadata": metadata}
    if anonymous_id is not None:
        item_data["userId"] = user_id
        item_data["anonymousId"] = anonymous_id
    return queue_document(event_id, "event", item_data, server_meta(client_ts, envelope, rules),
                          loaded, envelope, rules, user_id or anonymous_id)


VERB_DOCUMENTS = {
    "identify": identify_document,
    "alias": alias_document,
    "group": group_document,
    "page": lambda raw, index, envelope, rules: view_document("page", raw, index, envelope,
                                                              rules),
    "screen": lambda raw, index, envelope, rules: view_document("screen", raw, index,
                                                                envelope, rules),
}


def record_document(raw, envelope, rules):
    """Validate a record edit into its queue entry."""
    loaded = load(RECORD_ITEM, raw)
    storable_fields(loaded, ("data",), rules)
    client_ts = loaded.get("clientTimestamp")
    meta = server_meta(client_ts, envelope, rules)
    item_data = {
        "recordId": loaded["recordId"], "baseVersion": loaded["baseVersion"],
        "data": loaded["data"],
        "clientTimestamp": client_ts.isoformat() if client_ts else None,
    }
    return queue_document(loaded["itemId"], loaded["itemType"], item_data, meta, loaded,
                          envelope, rules)


def item_document(raw, index, envelope, rules):
    """A batch item's queue entry: events by itemType "event" (or none), the identity verbs by
    theirs (unless the app keeps those as record types), records otherwise."""
    if isinstance(raw, dict):
        item_type = raw.get("itemType", "event")
        if item_type != "event":
            verb = VERB_DOCUMENTS.get(item_type) if type(item_type) is str else None
            if verb is not None and not rules.verbs_are_record_types(envelope.app_id):
                return verb(raw, index, envelope, rules)
            return record_document(raw, envelope, rules)
    return event_document(raw, index, envelope, rules)


def client_item_id(raw):
    """The id the client gave an item, for answering it (None when it gave none)."""
    if not isinstance(raw, dict):
        return None
    value = raw.get("eventId") or raw.get("itemId")
    return value if isinstance(value, str) else None
