"""Schemas of the events read API: the filters and cursor of a page, the export's format, and
an event as the API shows it."""

from datetime import UTC

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from .base import BaseSchema
from .fields import UtcDateTime
from .telemetry import EventType, UserId

MAX_PAGE = 1000
MAX_EVENT_TYPES = 20
EXPORT_FORMATS = ("ndjson", "csv")


class EventFiltersSchema(BaseSchema):
    """The filters every events read takes."""

    userId = fields.String(validate=UserId, metadata={
        "description": "Only this person's events: those whose userId or anonymousId is this "
                       "id (any id, slashes included)."})
    anonymousId = fields.String(validate=UserId, metadata={
        "description": "Only the events of this id as well, matched in userId or anonymousId "
                       "alike (with userId, the events of either)."})
    eventType = fields.List(fields.String(validate=EventType),
                            validate=validate.Length(min=1, max=MAX_EVENT_TYPES), metadata={
        "description": f"Only events of these types (repeat the parameter, at most "
                       f"{MAX_EVENT_TYPES})."})
    from_ = UtcDateTime(data_key="from", default_timezone=UTC, metadata={
        "description": "Only events at or after this time (ISO 8601; UTC without an offset)."})
    to = UtcDateTime(default_timezone=UTC, metadata={
        "description": "Only events before this time (ISO 8601; UTC without an offset)."})

    @validates_schema
    def _range(self, data, **kwargs):
        if "from_" in data and "to" in data and data["from_"] > data["to"]:
            raise ValidationError("Must not be after `to`.", field_name="from")


class EventsQueryArgsSchema(EventFiltersSchema):
    cursor = fields.String(metadata={
        "description": "`nextCursor` of the previous page (opaque)."})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_PAGE),
                           metadata={"description": f"Events per page, 1-{MAX_PAGE}."})


class EventsExportQueryArgsSchema(EventFiltersSchema):
    format = fields.String(load_default="ndjson", validate=validate.OneOf(EXPORT_FORMATS),
                           metadata={"description": "`ndjson` (one event per line) or `csv`."})


class EventSchema(Schema):
    """One stored event: what the client sent, with the server's times."""

    eventId = fields.String(required=True)
    appId = fields.String(required=True)
    userId = fields.String(allow_none=True, required=True)
    anonymousId = fields.String(allow_none=True, required=True)
    eventType = fields.String(required=True)
    eventData = fields.Dict(required=True, metadata={"description": "As the client sent it."})
    metadata = fields.Dict(required=True, metadata={
        "description": "The client's metadata, with the server's serverTimestamp, receivedAt, "
                       "sentAt, skewMs and clamped."})
    timestamp = fields.DateTime(required=True, metadata={
        "description": "The event's time, skew-corrected (UTC)."})
    receivedAt = fields.String(allow_none=True, required=True, metadata={
        "description": "When the server received it (ISO 8601)."})
    createdAt = fields.DateTime(required=True, metadata={
        "description": "When the sync engine stored it."})
    status = fields.String(required=True)


class EventPageSchema(Schema):
    events = fields.List(fields.Nested(EventSchema), required=True)
    nextCursor = fields.String(allow_none=True, required=True, metadata={
        "description": "Pass as `cursor` for the next page; null on the last."})
