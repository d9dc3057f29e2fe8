"""Ingest endpoints: track one event, send a batch, read a batch's outcome, read sync status."""

from flask import current_app, g, jsonify, url_for
from flask.views import MethodView
from flask_smorest import abort

from ..extensions import store
from ..ingest.service import IngestError, batch_status, ingest_batch, track_event, track_verb
from ..schemas.fields import ID_PATTERN
from ..schemas.telemetry import (
    VERB_BODY_SCHEMAS,
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
        same payload answers `duplicate` and is stored once, and so does the eventId of an
        erased event. An event of a person erased with suppression answers `suppressed` (202,
        not stored; final, like `duplicate`).
        """
        try:
            result = track_event(store.get(), current_app.config, g.app_id, event)
        except IngestError as exc:
            _refuse(exc)
        return jsonify(result), 202


VERB_DOCS = {
    "identify": ("identifyUser", "Say who a user or visitor is",
                 "Traits are kept per trait on the person's profile, the latest (by the call's "
                 "time) winning; `traitsOnce` only where the profile has no value yet. Naming "
                 "both userId and anonymousId links the anonymous visitor's history to the "
                 "user."),
    "alias": ("aliasUser", "Link a previous id to a user",
              "From now on previousId (an anonymous id, or another user id whose profile is "
              "merged into this one) belongs to userId, its history included."),
    "group": ("groupUser", "Put a person in a group",
              "The person (userId or anonymousId) joins groupId, which gets the traits."),
    "page": ("trackPage", "Record a page view",
             "Stored as the event `page_viewed`, whose eventData is the properties plus name "
             "and category when given."),
    "screen": ("trackScreen", "Record a screen view",
               "Stored as the event `screen_viewed`, whose eventData is the properties plus "
               "name and category when given."),
}


def _verb_view(verb):
    """The MethodView of one identity verb's endpoint (POST /api/telemetry/<verb>)."""
    operation_id, summary, description = VERB_DOCS[verb]

    def post(self, body):
        try:
            result = track_verb(store.get(), current_app.config, g.app_id, verb, body)
        except IngestError as exc:
            _refuse(exc)
        return jsonify(result), 202

    post.__doc__ = (f"{summary}\n\n{description} Answered only once the call is committed to "
                    "the sync queue; a resent (or erased) eventId answers `duplicate` and is "
                    "stored once; a call naming a person erased with suppression answers "
                    "`suppressed` and is not stored.")
    post = blp.error(429, "The key is over its rate limit, or the user's backlog is full; see "
                          "Retry-After.", headers=RETRY_AFTER)(post)
    post = blp.error(415, "The body is not JSON (or not gzip when so encoded).")(post)
    post = blp.error(413, "The body is too large.")(post)
    post = blp.response(202, TrackResultSchema)(post)
    post = blp.arguments(VERB_BODY_SCHEMAS[verb]())(post)
    post = require_scope("ingest")(post)
    post = blp.doc(operationId=operation_id)(post)
    view = type(verb.capitalize(), (MethodView,), {"post": post})
    return blp.route(f"/{verb}")(view)


for _verb in VERB_DOCS:
    _verb_view(_verb)


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
        An item of a person erased with suppression (its userId, anonymousId or previousId)
        answers `suppressed` and is not stored; an erased eventId or itemId, or every item of an
        erased batchId, answers `duplicate`. Both are final answers, like `accepted`.
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
