"""Schemas of the suppression API: whether a person is suppressed, and lifting it."""

from marshmallow import Schema, fields

from .base import BaseSchema
from .telemetry import UserId


class SuppressionQueryArgsSchema(BaseSchema):
    userId = fields.String(required=True, validate=UserId, metadata={
        "description": "The person's userId or anonymousId (any id, slashes included)."})


class SuppressionSchema(Schema):
    userId = fields.String(required=True)
    suppressed = fields.Boolean(required=True, metadata={
        "description": "Whether the person's items are refused at ingest (answered "
                       "`suppressed`)."})
    since = fields.DateTime(allow_none=True, required=True, metadata={
        "description": "When the suppression was recorded (null when not suppressed)."})


class LiftedSchema(Schema):
    userId = fields.String(required=True)
    lifted = fields.Boolean(required=True, metadata={
        "description": "true: the suppression was lifted; false: the person was not suppressed "
                       "(nothing changed)."})
