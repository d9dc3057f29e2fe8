"""Ingest endpoints: track one event, send a batch, read a batch's outcome, read sync status."""

from flask import current_app, g, jsonify, url_for
from flask.views import MethodView
from flask_smorest import abort

from ..extensions import store
from ..ingest.service import IngestError, batch_status, ingest_batch, track_event
from ..schemas.fields import ID_PATTERN
from ..schemas.telemetry import (
    BatchLogSchema,
    BatchResultSchema,
    BatchSchema,
    StatusQueryArgsSchema,
    StatusSchema,
    TrackResultSchema,
    TrackSchema,
)
from ..sync.scheduling import scheduler_state, sync_soon
from ..sync.status import sync_status
from .base import RETRY_AFTER, ApiBlueprint, link, links, path_parameter, require_scope

blp = ApiBlueprint("telemetry", __name__, url_prefix="/api/telemetry",
                   description="Send telemetry events and offline edits; follow their sync.")


def _refuse(exc):
    abort(exc.status, error=exc.code, message=exc.message, fields=exc.fields)


@blp.route("/track")
class Track(MethodView):
    @blp.doc(operationId="trackEvent")
    @require_scope("ingest")
    @blp.arguments(TrackSchema())
    @blp.response(202, TrackResultSchema)
    @blp.error(413, "The body is too large.")
    @blp.error(415, "The body is not JSON (or not gzip when so encoded).")
    @blp.error(429, "The key is over its rate limit, or the user's backlog is full; see "
                    "Retry-After.", headers=RETRY_AFTER)
    def post(self, event):
        """Send one event

        Answered only once the event is committed to the sync queue. A resent eventId with the
        same payload answers `duplicate` and is stored once.
        """
        try:
            result = track_event(store.get(), current_app.config, g.app_id, event)
        except IngestError as exc:
            _refuse(exc)
        return jsonify(result), 202


@blp.route("/batch")
class Batch(MethodView):
    @blp.doc(operationId="sendBatch")
    @links(202, BatchStatus=link("getBatch", "The batch's log.", batch_id="/batchId"))
    @require_scope("ingest")
    # An instance, not the class: webargs would build the schema anew for every request.
    @blp.arguments(BatchSchema())
    @blp.response(202, BatchResultSchema)
    @blp.error(409, "The batchId was used before for other items.")
    @blp.error(413, "Too many items, or the body is too large.")
    @blp.error(415, "The body is not JSON (or not gzip when so encoded).")
    @blp.error(429, "The key is over its rate limit, or a user's backlog is full; see "
                    "Retry-After.", headers=RETRY_AFTER)
    def post(self, batch):
        """Send a batch of events and record edits

        Each item is validated on its own: valid items are kept even when others are rejected,
        and `results` says what became of each. Answered only once the accepted items are
        committed. Resending a batchId returns the first answer and stores nothing twice.
        """
        try:
            result = ingest_batch(store.get(), current_app.config, g.app_id, batch)
        except IngestError as exc:
            _refuse(exc)
        if result["accepted"]:
            sync_soon()
        result["statusUrl"] = url_for("telemetry.BatchStatus", batch_id=result["batchId"])
        return jsonify(result), 202


@blp.route("/batch/<string:batch_id>", parameters=[
    path_parameter("batch_id", ID_PATTERN, "The batchId the client gave the batch.")])
class BatchStatus(MethodView):
    @blp.doc(operationId="getBatch")
    @require_scope("read")
    @blp.response(200, BatchLogSchema)
    @blp.error(404, "No such batch for this app.")
    def get(self, batch_id):
        """Read a batch's log with each item's outcome and sync state"""
        log = batch_status(store.get(), g.app_id, batch_id)
        if log is None:
            abort(404, error="not_found", message=f"No batch {batch_id!r} for this app.")
        return log


@blp.route("/status")
class Status(MethodView):
    @blp.doc(operationId="getSyncStatus")
    @require_scope("read")
    @blp.arguments(StatusQueryArgsSchema, location="query")
    @blp.response(200, StatusSchema)
    def get(self, args):
        """Read the sync queue's state and the scheduler's"""
        return {"syncStatus": sync_status(store.get(), current_app.config, scheduler_state(),
                                          g.app_id, args.get("userId"))}
