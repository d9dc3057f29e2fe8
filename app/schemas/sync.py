"""Schemas of the sync API: runs, pulled records, conflicts and their resolution, event metrics."""

from datetime import UTC

from marshmallow import EXCLUDE, Schema, fields, validate

from .base import BaseSchema
from .errors import ErrorSchema
from .fields import ID_PATTERN, FullMatch, UtcDateTime
from .telemetry import RECORD_TYPE, STRATEGIES, BatchCountsSchema

CONFLICT_RESOLUTIONS = ("server", "client", "merged")
CONFLICT_STATES = ("open", "resolved")
# How long `POST /sync?wait=` may hold a request (and a worker): well inside gunicorn's timeout.
MAX_SYNC_WAIT_SECONDS = 20


class SyncErrorSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    itemId = fields.String()
    status = fields.String(metadata={"enum": ["failed", "dead"]})
    reason = fields.String()


class SyncBatchSchema(BatchCountsSchema):
    """One claimed batch of a sync run (its batch log, without per-item results)."""

    class Meta:
        unknown = EXCLUDE

    batchId = fields.String()
    source = fields.String(metadata={"enum": ["scheduled", "manual"]})


class SyncRunSchema(BatchCountsSchema):
    """A sync run's summary: totals over its batches, the batches, and this app's errors."""

    batches = fields.List(fields.Nested(SyncBatchSchema), metadata={
        "description": "The batches that held the calling app's items, with its counts."})
    errors = fields.List(fields.Nested(SyncErrorSchema), metadata={
        "description": "Failed and dead items of the calling app (other apps' stay private; "
                       "the first 1000 of a run, the counts stay exact)."})


class SyncNowQueryArgsSchema(BaseSchema):
    wait = fields.Float(allow_nan=False, validate=validate.Range(
        min=0, min_inclusive=False, max=MAX_SYNC_WAIT_SECONDS), metadata={
        "description": f"Seconds (more than 0, at most {MAX_SYNC_WAIT_SECONDS}) to wait for the "
                       "run to finish: when it does, the answer is its summary (200)."})


class SyncProgressSchema(Schema):
    """What a run has done so far, for the calling app."""

    batches = fields.Integer(metadata={"description": "Batches that held the app's items."})
    itemCount = fields.Integer()
    successCount = fields.Integer()
    failureCount = fields.Integer()
    duplicateCount = fields.Integer()
    conflictCount = fields.Integer()


class SyncRunStatusSchema(Schema):
    """A sync run: its state, its progress and, once it has ended, its summary."""

    runId = fields.String()
    state = fields.String(metadata={
        "enum": ["running", "done", "error", "abandoned"],
        "description": "`abandoned`: the run stopped without finishing (its process ended or "
                       "stalled past its lease); what it left is taken by the next run."})
    source = fields.String(metadata={"enum": ["scheduled", "manual"]})
    startedAt = fields.DateTime()
    heartbeatAt = fields.DateTime(allow_none=True, metadata={
        "description": "When the run last reported progress."})
    endedAt = fields.DateTime(allow_none=True)
    error = fields.String(allow_none=True, metadata={
        "description": "Why the run failed or was abandoned."})
    progress = fields.Nested(SyncProgressSchema)
    summary = fields.Nested(SyncRunSchema, allow_none=True, metadata={
        "description": "Once the run has ended: the same summary `?wait=` answers."})
    statusUrl = fields.String(metadata={"description": "This run's URL."})


class SyncBusySchema(ErrorSchema):
    """A sync is already running: the error, and the run to follow instead."""

    runId = fields.String(allow_none=True, metadata={
        "description": "The run that is going (also in `Location`)."})
    statusUrl = fields.String(allow_none=True)


class RecordsQueryArgsSchema(BaseSchema):
    recordType = fields.String(validate=RECORD_TYPE, metadata={
        "description": "Only records of this type."})
    since = fields.Integer(load_default=0, validate=validate.Range(min=0, max=2**53), metadata={
        "description": "The checkpoint from the previous pull (`nextSince`); 0 for everything."})
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class RecordSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    recordType = fields.String()
    recordId = fields.String()
    userId = fields.String(allow_none=True)
    version = fields.Integer()
    data = fields.Dict()
    updatedAt = fields.DateTime()
    updatedBy = fields.String(allow_none=True)
    changeSeq = fields.Integer(metadata={"description": "The change number of this version."})


class RecordPageSchema(Schema):
    records = fields.List(fields.Nested(RecordSchema))
    nextSince = fields.Integer(metadata={
        "description": "The checkpoint to pull from next time (`since`)."})
    hasMore = fields.Boolean(metadata={"description": "More changes wait after this page."})


class ConflictQueryArgsSchema(BaseSchema):
    status = fields.String(validate=validate.OneOf(CONFLICT_STATES))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    cursor = fields.String(validate=FullMatch(ID_PATTERN), metadata={
        "description": "`nextCursor` of the previous page."})


class ConflictSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    id = fields.String()
    itemId = fields.String()
    kind = fields.String(metadata={"enum": ["record", "event"]})
    recordType = fields.String(allow_none=True)
    recordId = fields.String(metadata={"description": "The record's id, or the event's eventId."})
    base = fields.Raw(allow_none=True, metadata={
        "description": "The version both sides started from (records only).",
        "type": "object"})
    server = fields.Raw(allow_none=True, metadata={"type": "object"})
    client = fields.Raw(allow_none=True, metadata={"type": "object"})
    fields_ = fields.List(fields.String(), data_key="fields", attribute="fields", metadata={
        "description": "Top-level fields whose server and client values differ."})
    strategy = fields.String(metadata={"enum": list(STRATEGIES)})
    status = fields.String(metadata={"enum": list(CONFLICT_STATES)})
    resolution = fields.String(allow_none=True, metadata={"enum": list(CONFLICT_RESOLUTIONS)})
    resolvedBy = fields.String(allow_none=True)
    resolvedAt = fields.DateTime(allow_none=True)
    createdAt = fields.DateTime()


class ConflictPageSchema(Schema):
    conflicts = fields.List(fields.Nested(ConflictSchema))
    nextCursor = fields.String(allow_none=True)


class ResolveSchema(BaseSchema):
    resolution = fields.String(required=True, validate=validate.OneOf(CONFLICT_RESOLUTIONS))
    data = fields.Dict(metadata={
        "description": "The merged value (required with `merged`): a record's data, or an "
                       "event's eventData."})


class MetricsQueryArgsSchema(BaseSchema):
    from_ = UtcDateTime(data_key="from", default_timezone=UTC, metadata={
        "description": "Only events at or after this time (ISO 8601)."})
    to = UtcDateTime(default_timezone=UTC, metadata={
        "description": "Only events before this time (ISO 8601)."})


class TypeCountSchema(Schema):
    eventType = fields.String()
    count = fields.Integer()


class DayCountSchema(Schema):
    day = fields.String(metadata={"description": "A UTC day, YYYY-MM-DD."})
    total = fields.Integer()
    byType = fields.Dict(keys=fields.String(), values=fields.Integer())


class MetricsSchema(Schema):
    from_ = fields.DateTime(data_key="from", attribute="from", allow_none=True)
    to = fields.DateTime(allow_none=True)
    total = fields.Integer()
    byType = fields.List(fields.Nested(TypeCountSchema))
    byDay = fields.List(fields.Nested(DayCountSchema))
