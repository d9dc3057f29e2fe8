"""Schemas of the erasure API: a deletion request's query, and a deletion as it is followed."""

from marshmallow import Schema, fields, validate

from .base import BaseSchema
from .telemetry import UserId

DELETION_STATES = ("pending", "running", "done", "failed")
DELETION_PHASES = ("audit", "batches", "events", "queue", "conflicts", "records", "versions",
                   "people", "checkpoint", "done")
SUPPRESS = ("true", "false")
SUPPRESS_DESCRIPTION = ("`true` also refuses the person's future items (each answered "
                        "`suppressed`); `false` (the default) erases only.")


class DeleteQueryArgsSchema(BaseSchema):
    suppress = fields.String(load_default="false", validate=validate.OneOf(SUPPRESS),
                             metadata={"description": SUPPRESS_DESCRIPTION})


class DeleteByQueryArgsSchema(DeleteQueryArgsSchema):
    userId = fields.String(required=True, validate=UserId, metadata={
        "description": "The person's userId or anonymousId (any id, slashes included)."})


class DeletionSchema(Schema):
    """A person's erasure: where it stands and what it has erased. It names no one."""

    deletionId = fields.String(required=True)
    status = fields.String(required=True, metadata={"enum": list(DELETION_STATES)})
    phase = fields.String(allow_none=True, metadata={
        "enum": [*DELETION_PHASES, None],
        "description": "The step it is at; `checkpoint`: the rows are gone, and the store's "
                       "freed bytes are overwritten before it is `done`."})
    suppress = fields.Boolean(required=True)
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True,
                         metadata={"description": "Rows erased (or audit entries scrubbed), by "
                                                  "phase."})
    requestedAt = fields.DateTime(required=True)
    updatedAt = fields.DateTime(allow_none=True)
    finishedAt = fields.DateTime(allow_none=True)


class DeletionAcceptedSchema(DeletionSchema):
    url = fields.String(required=True, metadata={
        "description": "Where to follow the deletion (also in `Location`)."})
