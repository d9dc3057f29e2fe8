"""Schemas of the people API: a person's profile, and the query naming a person."""

from marshmallow import Schema, fields

from .base import BaseSchema
from .telemetry import UserId


class PersonQueryArgsSchema(BaseSchema):
    userId = fields.String(required=True, validate=UserId, metadata={
        "description": "The person's userId (any id, slashes included)."})


class PersonSchema(Schema):
    """One person of an app: what its identify, alias and group calls and its events made."""

    userId = fields.String(required=True)
    traits = fields.Dict(required=True, metadata={
        "description": "Each trait's latest value, by the time of the call that set it."})
    traitTimes = fields.Dict(keys=fields.String(), values=fields.String(), required=True,
                             metadata={"description": "When each trait was set (ISO 8601)."})
    anonymousIds = fields.List(fields.String(), required=True, metadata={
        "description": "The anonymous ids (and merged user ids) linked to this person: their "
                       "events are this person's."})
    groups = fields.List(fields.String(), required=True)
    firstSeen = fields.DateTime(required=True, allow_none=True, metadata={
        "description": "The time of the person's first event, anonymous history included."})
    lastSeen = fields.DateTime(required=True, allow_none=True, metadata={
        "description": "The time of the person's latest event."})
    eventCount = fields.Integer(required=True, metadata={
        "description": "The person's events, those sent before they were identified included."})


def _rows(description):
    return fields.List(fields.Dict(), required=True, metadata={"description": description})


class PersonExportSchema(Schema):
    """Everything an app holds of one person (a data-access request), as one JSON document."""

    userId = fields.String(required=True)
    appId = fields.String(required=True)
    exportedAt = fields.DateTime(required=True)
    profile = fields.Nested(PersonSchema, required=True, allow_none=True, metadata={
        "description": "The profile, or null when the person has none (events only)."})
    events = _rows("The person's events (userId or a linked anonymousId), as stored.")
    queueItems = _rows("Every item of theirs in the sync queue, payloads included, in any "
                       "state.")
    records = _rows("The records whose userId is theirs.")
    recordVersions = _rows("The record versions their items wrote.")
    conflicts = _rows("The conflicts of their items, with base, server and client values.")
    batches = _rows("The logs of the batches they sent (counts and per-item results).")


def profile_view(person):
    """A stored profile as the API, the console and an export show it."""
    return {"userId": person["userId"], "traits": person.get("traits") or {},
            "traitTimes": person.get("traitTimes") or {},
            "anonymousIds": person.get("anonymousIds") or [],
            "groups": person.get("groups") or [], "firstSeen": person.get("firstSeen"),
            "lastSeen": person.get("lastSeen"), "eventCount": person.get("eventCount") or 0}
