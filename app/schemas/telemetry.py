"""Schemas of the ingest API: single events, batch envelopes, items, and their answers."""

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from .base import BaseSchema
from .fields import NO_NUL, FullMatch, Identifier, StorableDict, UtcDateTime, WholeNumber
from .storable import KEPT_AS_SENT

STRATEGIES = ("server_wins", "client_wins", "last_write_wins", "merge", "manual")
ITEM_STATES = ("accepted", "duplicate", "rejected", "suppressed")
# What a sync run did with each item it claimed.
SYNC_OUTCOMES = ("applied", "duplicate", "conflict", "held", "retry", "dead")


def is_list(value):
    if not isinstance(value, list):
        raise ValidationError("Must be a list of items.")


RECORD_TYPE = FullMatch(
    r"^(?!event$)[A-Za-z][A-Za-z0-9_.\-]{0,63}$",
    error="Must start with a letter, use letters, digits or _.- and not be 'event'.",
)
# Item types that are the identity verbs (beside "event"), unless the app keeps them as record
# types (LEGACY_RECORD_TYPE_APPS). page and screen are stored as these events.
VERB_TYPES = ("identify", "alias", "group", "page", "screen")
VIEW_EVENT_TYPES = {"page": "page_viewed", "screen": "screen_viewed"}
UserId = validate.Length(min=1, max=256)
# Sequence numbers and versions: whole numbers both stores can hold (64-bit).
Counter = validate.Range(min=0, max=2**53)
Priority = validate.Range(min=-100, max=100)
EventType = [validate.Length(min=1, max=100), NO_NUL]
ViewName = [validate.Length(max=1000), NO_NUL]
ANONYMOUS_ID = ("Made by the client for a visitor not known yet; the events of an anonymousId "
                "belong to the user it is later linked to (identify naming both, or alias).")
ONE_OF_IDS = "Give userId or anonymousId (or both)."


class SyncOrderSchema(BaseSchema):
    """Where an item goes in the sync order: higher priority first, then a client's `seq`.

    Absent fields get their defaults in code (priority 0), not through load_default, which
    costs on each load of every batch item.
    """

    priority = WholeNumber(validate=Priority, metadata={"default": 0})
    clientId = Identifier()
    seq = WholeNumber(validate=Counter)


class MetadataSchema(Schema):
    """Client metadata: clientTimestamp is read by the server, everything else is kept as sent."""

    class Meta:
        unknown = "include"

    # null counts as absent (ingest reads it with this field).
    clientTimestamp = UtcDateTime(allow_none=True, metadata={
        "description": "When the event happened, by the client's clock (ISO 8601 with offset)."})


class TrackSchema(SyncOrderSchema):
    """One event sent on its own."""

    eventId = Identifier(metadata={
        "description": "Made by the client at capture time (UUIDv7 advised); the server makes "
                       "one when absent, which makes a resend a second event."})
    userId = fields.String(validate=UserId, metadata={"description": ONE_OF_IDS})
    anonymousId = fields.String(validate=UserId, metadata={"description": ANONYMOUS_ID})
    eventType = fields.String(required=True, validate=EventType)
    eventData = StorableDict(load_default=dict)
    metadata = StorableDict(shape=MetadataSchema, load_default=dict, metadata={
        "description": "Client metadata, kept as sent; `clientTimestamp` is read."})
    sentAt = UtcDateTime(metadata={
        "description": "When the client sent this request, by its own clock: corrects skew."})


class TrackedItemSchema(SyncOrderSchema):
    """What every batch item but a record edit carries: an event's or an identity verb's.

    Ingest validates every item of every batch, so absent fields get their defaults in code
    rather than through load_default, which costs on each load.
    """

    itemId = Identifier(metadata={"description": "Same as eventId when given."})
    eventId = Identifier(metadata={
        "description": "Made at capture time; when absent one is derived from batchId and the "
                       "item's index, so a resent batch is still stored once."})
    userId = fields.String(validate=UserId)
    anonymousId = fields.String(validate=UserId, metadata={"description": ANONYMOUS_ID})
    metadata = StorableDict(shape=MetadataSchema, metadata={
        "description": "Client metadata, kept as sent; `clientTimestamp` is read."})


class EventItemSchema(TrackedItemSchema):
    """A batch item carrying an event (itemType "event"; the default)."""

    itemType = fields.String(validate=validate.Equal("event"))
    eventType = fields.String(required=True, validate=EventType)
    eventData = StorableDict()


TRAITS = ("What is known of the person, kept per trait: the latest (by the item's time) wins.")
TRAITS_ONCE = "Traits set only where the profile has no value yet."


class IdentifyItemSchema(TrackedItemSchema):
    """Who a user (or an anonymous visitor) is: traits; naming both ids links them."""

    itemType = fields.String(required=True, validate=validate.Equal("identify"))
    traits = StorableDict(metadata={"description": f"{TRAITS} {KEPT_AS_SENT}"})
    traitsOnce = StorableDict(metadata={"description": f"{TRAITS_ONCE} {KEPT_AS_SENT}"})


class AliasItemSchema(TrackedItemSchema):
    """previousId (an anonymous id, or a user id merged into this one) is userId from now on."""

    itemType = fields.String(required=True, validate=validate.Equal("alias"))
    previousId = fields.String(required=True, validate=UserId)
    userId = fields.String(required=True, validate=UserId)


class GroupItemSchema(TrackedItemSchema):
    """The person belongs to a group (an account, a company), with the group's traits."""

    itemType = fields.String(required=True, validate=validate.Equal("group"))
    groupId = fields.String(required=True, validate=UserId)
    traits = StorableDict(metadata={"description": f"The group's traits. {KEPT_AS_SENT}"})


class ViewItemSchema(TrackedItemSchema):
    """A page or screen view, stored as the event page_viewed or screen_viewed whose eventData
    is the properties plus name and category when given."""

    name = fields.String(validate=ViewName)
    category = fields.String(validate=ViewName)
    properties = StorableDict()


class PageItemSchema(ViewItemSchema):
    itemType = fields.String(required=True, validate=validate.Equal("page"))


class ScreenItemSchema(ViewItemSchema):
    itemType = fields.String(required=True, validate=validate.Equal("screen"))


class RecordItemSchema(SyncOrderSchema):
    """A batch item carrying an offline edit of a record (itemType is the record type)."""

    itemType = fields.String(required=True, validate=RECORD_TYPE)
    itemId = Identifier(required=True)
    recordId = Identifier(required=True)
    baseVersion = WholeNumber(required=True, validate=Counter, metadata={
        "description": "The record version this edit started from (0 for a new record)."})
    data = StorableDict(required=True)
    clientTimestamp = UtcDateTime()
    conflictResolution = fields.String(validate=validate.OneOf(STRATEGIES))
    userId = fields.String(validate=UserId)


def _body(item_schema, summary):
    """The body of a verb's own endpoint: its batch item's fields, less itemType and itemId,
    plus sentAt."""

    class Meta(BaseSchema.Meta):
        exclude = ("itemType", "itemId")

    return type(item_schema.__name__.replace("ItemSchema", "Schema"), (item_schema,), {
        "Meta": Meta, "__doc__": summary,
        "sentAt": UtcDateTime(metadata={
            "description": "When the client sent this request, by its own clock: corrects "
                           "skew."}),
    })


IdentifySchema = _body(IdentifyItemSchema, IdentifyItemSchema.__doc__)
AliasSchema = _body(AliasItemSchema, AliasItemSchema.__doc__)
GroupSchema = _body(GroupItemSchema, GroupItemSchema.__doc__)
PageSchema = _body(PageItemSchema, ViewItemSchema.__doc__)
ScreenSchema = _body(ScreenItemSchema, ViewItemSchema.__doc__)
# Each verb's batch item schema and its own endpoint's, by itemType.
VERB_ITEM_SCHEMAS = {"identify": IdentifyItemSchema, "alias": AliasItemSchema,
                     "group": GroupItemSchema, "page": PageItemSchema,
                     "screen": ScreenItemSchema}
VERB_BODY_SCHEMAS = {"identify": IdentifySchema, "alias": AliasSchema, "group": GroupSchema,
                     "page": PageSchema, "screen": ScreenSchema}


class BatchSchema(BaseSchema):
    """A batch of items; each item is validated on its own so valid ones are kept."""

    batchId = Identifier(required=True, metadata={
        "description": "Made by the client; resending the same batchId returns the first answer."})
    userId = fields.String(validate=UserId, metadata={"description": "Default for every item."})
    anonymousId = fields.String(validate=UserId, metadata={
        "description": f"Default for every item. {ANONYMOUS_ID}"})
    clientId = Identifier()
    sentAt = UtcDateTime(metadata={
        "description": "When the client sent this request, by its own clock: corrects skew."})
    # Its JSON Schema (item count, at least one valid item) is stated by schemas/document.py.
    items = fields.Raw(required=True, validate=is_list)


# The answers of track, batch and health are made by their services, not dumped through these
# schemas: tests/api/test_answers_match_document.py holds them to what these say, required
# fields included.
class TrackResultSchema(Schema):
    eventId = fields.String(required=True)
    status = fields.String(required=True, metadata={
        "enum": ["accepted", "duplicate", "suppressed"],
        "description": "`accepted`: committed to the sync queue. `duplicate`: already stored, "
                       "or erased (a resend of an erased id); not stored again. `suppressed`: "
                       "the person (userId, anonymousId or previousId) asked to be erased and "
                       "not tracked; not stored. All three are final: do not send it again."})


class ItemResultSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    index = fields.Integer(required=True)
    itemId = fields.String(allow_none=True)
    status = fields.String(required=True, metadata={
        "enum": sorted(set(ITEM_STATES) | set(SYNC_OUTCOMES)),
        "description": "Ingest outcome (client batches) or sync outcome (sync runs)."})
    fields_ = fields.Dict(data_key="fields", attribute="fields")
    syncStatus = fields.String(metadata={
        "description": "Where the item is now in the sync queue (batch status only)."})
    lastError = fields.String(allow_none=True)


class BatchResultSchema(Schema):
    batchId = fields.String(required=True)
    accepted = fields.Integer(required=True)
    duplicates = fields.Integer(required=True)
    rejected = fields.Integer(required=True)
    suppressed = fields.Integer(required=True, metadata={
        "description": "Items of suppressed people: answered `suppressed`, not stored (final)."})
    results = fields.List(fields.Nested(ItemResultSchema), required=True)
    statusUrl = fields.String(required=True)


class BatchCountsSchema(Schema):
    """What every batch log and sync run counts, and when it ran."""

    itemCount = fields.Integer()
    successCount = fields.Integer()
    failureCount = fields.Integer()
    duplicateCount = fields.Integer()
    conflictCount = fields.Integer()
    startTime = fields.DateTime()
    endTime = fields.DateTime(allow_none=True)
    status = fields.String(metadata={"enum": ["success", "partial", "error"]})


class BatchLogSchema(BatchCountsSchema):
    batchId = fields.String()
    appId = fields.String(allow_none=True)
    userId = fields.String(allow_none=True)
    clientId = fields.String(allow_none=True)
    source = fields.String(metadata={
        "enum": ["client", "segment", "posthog", "scheduled", "manual"],
        "description": "Who sent the batch: a client through the native API or a compatible "
                       "protocol, or a sync run."})
    rejectedCount = fields.Integer()
    suppressedCount = fields.Integer(metadata={
        "description": "Items of suppressed people, answered `suppressed` and not stored (client "
                       "batches; not errors)."})
    errors = fields.List(fields.Dict())
    results = fields.List(fields.Nested(ItemResultSchema))


class StatusQueryArgsSchema(BaseSchema):
    userId = fields.String(validate=UserId)


class SyncStatusSchema(Schema):
    lastSyncTime = fields.DateTime(allow_none=True)
    nextSyncTime = fields.DateTime(allow_none=True)
    pendingItems = fields.Integer()
    processingItems = fields.Integer()
    failedItems = fields.Integer()
    conflictItems = fields.Integer()
    deadItems = fields.Integer()
    doneItems = fields.Integer()
    schedulerRunning = fields.Boolean()
    intervalMinutes = fields.Float()


class StatusSchema(Schema):
    syncStatus = fields.Nested(SyncStatusSchema)


class HealthSchema(Schema):
    status = fields.String(required=True, metadata={"enum": ["healthy", "degraded", "unhealthy"]})
    services = fields.Dict(keys=fields.String(), values=fields.String(), required=True)


class LivenessSchema(Schema):
    status = fields.String(required=True, metadata={"enum": ["live"]})


READINESS_REASONS = ("store_down", "upgrade_needed", "store_too_new")


class ReadinessSchema(Schema):
    status = fields.String(required=True, metadata={"enum": ["ready", "not_ready"]})
    reason = fields.String(metadata={"enum": list(READINESS_REASONS),
                                     "description": "Why the service is not ready."})
    message = fields.String(metadata={"description": "What to do about it."})
    schemaVersion = fields.Integer(allow_none=True, metadata={
        "description": "The store's schema version (null for a store not made yet); absent "
                       "when the store cannot be reached."})
    latestVersion = fields.Integer(required=True, metadata={
        "description": "The schema version this release runs on."})
