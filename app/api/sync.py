"""Sync endpoints: start and follow sync runs, pull changed records, read and resolve conflicts,
event metrics."""

from flask import current_app, g, jsonify, url_for
from flask.views import MethodView
from flask_smorest import abort

from ..extensions import store
from ..schemas.fields import ID_PATTERN
from ..schemas.sync import (
    ConflictPageSchema,
    ConflictQueryArgsSchema,
    ConflictSchema,
    MetricsQueryArgsSchema,
    MetricsSchema,
    RecordPageSchema,
    RecordSchema,
    RecordsQueryArgsSchema,
    ResolveSchema,
    SyncBusySchema,
    SyncNowQueryArgsSchema,
    SyncRunSchema,
    SyncRunStatusSchema,
)
from ..schemas.telemetry import RECORD_TYPE
from ..sync import runs
from ..sync.conflicts import ConflictError, get_conflict, list_conflicts, resolve_conflict
from ..sync.records import event_metrics, pull_records
from ..sync.scheduling import start_in_background
from .base import ApiBlueprint, link, links, path_parameter, require_scope

blp = ApiBlueprint("sync", __name__, url_prefix="/api/telemetry",
                   description="Run the sync, pull records, resolve conflicts, read metrics.")


# Where a run can be followed: in every answer that names a run.
LOCATION = {"Location": {"description": "The run's URL: GET it to follow the run.",
                         "schema": {"type": "string"}, "required": True}}


def run_url(run_id):
    return url_for("sync.SyncRunStatus", run_id=run_id)


def follow(run):
    """A run as the calling app may see it, with its URL."""
    return dict(run, statusUrl=run_url(run["runId"]))


@blp.route("/sync")
class SyncNow(MethodView):
    @blp.doc(operationId="startSync")
    @links(202, SyncRun=link("getSyncRun", "Follow the run.", run_id="/runId"))
    @require_scope("admin")
    @blp.arguments(SyncNowQueryArgsSchema, location="query")
    @blp.response(202, SyncRunStatusSchema, headers=LOCATION,
                  description="The run has started (or, with `wait`, has not finished in time).")
    @blp.alt_response(200, schema=SyncRunSchema, success=True, headers=LOCATION,
                      description="With `wait`: the run finished in time; its summary.")
    @blp.alt_response(409, schema=SyncBusySchema,
                      headers={"Location": dict(LOCATION["Location"], required=False)},
                      description="A sync is already running (here or in another process): "
                                  "the answer names it.")
    def post(self, args):
        """Start a sync run

        Answers at once (202) with the run, whose URL is also in `Location`: GET it to follow
        the run's progress and read its summary once it has ended. With `wait=N` (seconds, at
        most 20) it waits that long for the run to finish and then answers its summary (200,
        with the run's URL in `Location`), else 202 as without. Counts and errors are the
        calling app's. Only one sync runs at a time across all processes: 409 names the run
        that is going.
        """
        run, holder = start_in_background(current_app._get_current_object(), "manual",
                                          requested_by=f"api:{g.app_id}")
        if run is None:
            return busy(holder)
        wait = args.get("wait")
        if wait and run.finished.wait(wait):
            found = runs.view(store.get(), run.run_id, app_id=g.app_id)
            if found["state"] == "done":
                response = jsonify(SyncRunSchema().dump(found["summary"]))
                response.headers["Location"] = run_url(run.run_id)
                return response
        found = runs.view(store.get(), run.run_id, app_id=g.app_id)
        return follow(found), 202, {"Location": run_url(run.run_id)}


def busy(run_id):
    """409 in the error shape, naming the run that is going (when it has not just ended)."""
    url = run_url(run_id) if run_id is not None else None
    response = jsonify({"error": "sync_in_progress",
                        "message": "A sync is already running: follow it at its URL, or try "
                                   "again when it has finished.",
                        "fields": {}, "runId": run_id, "statusUrl": url})
    response.status_code = 409
    if url is not None:
        response.headers["Location"] = url
    return response


@blp.route("/sync/runs/<string:run_id>")
class SyncRunStatus(MethodView):
    @blp.doc(operationId="getSyncRun")
    @require_scope("read")
    @blp.response(200, SyncRunStatusSchema)
    @blp.error(404, "No such sync run.")
    def get(self, run_id):
        """Follow a sync run

        Its state (`running`, `done`, `error`, or `abandoned` when it stopped without
        finishing), its progress and, once it has ended, its summary: the calling app's counts
        and errors, whichever app started it.
        """
        found = runs.view(store.get(), run_id, app_id=g.app_id)
        if found is None:
            abort(404, error="not_found", message=f"No sync run {run_id[:100]!r}.")
        return follow(found)


@blp.route("/records")
class Records(MethodView):
    @blp.doc(operationId="pullRecords")
    @links(200, Record=link("getRecord", "The first record of the page.",
                            record_type="/records/0/recordType",
                            record_id="/records/0/recordId"))
    @require_scope("read")
    @blp.arguments(RecordsQueryArgsSchema, location="query")
    @blp.response(200, RecordPageSchema)
    def get(self, args):
        """Pull records changed after a checkpoint

        Oldest change first, each with its version and data. Pass `nextSince` back as `since`
        to get the next changes; `hasMore` says whether to ask again right away.
        """
        return pull_records(store.get(), g.app_id, args.get("recordType"), args["since"],
                            args["limit"])


@blp.route("/records/<string:record_type>/<string:record_id>", parameters=[
    path_parameter("record_type", RECORD_TYPE.regex.pattern, "The record's type (its itemType)."),
    path_parameter("record_id", ID_PATTERN, "The record's id.")])
class Record(MethodView):
    @blp.doc(operationId="getRecord")
    @require_scope("read")
    @blp.response(200, RecordSchema)
    @blp.error(404, "No such record for this app.")
    def get(self, record_type, record_id):
        """Read one record with its version"""
        record = store.get().get_record(g.app_id, record_type, record_id)
        if record is None:
            abort(404, error="not_found",
                  message=f"No {record_type!r} record {record_id!r} for this app.")
        return record


@blp.route("/conflicts")
class Conflicts(MethodView):
    @blp.doc(operationId="listConflicts")
    @links(200, Conflict=link("getConflict", "The first conflict of the page.",
                              conflict_id="/conflicts/0/id"),
           ResolveConflict=link("resolveConflict", "Resolve the first conflict of the page.",
                                conflict_id="/conflicts/0/id"))
    @require_scope("read")
    @blp.arguments(ConflictQueryArgsSchema, location="query")
    @blp.response(200, ConflictPageSchema)
    def get(self, args):
        """List conflicts, newest first

        Each with the base, server and client values and the fields that differ. Filter with
        `status=open` for those waiting for a resolution; page with `cursor`.
        """
        conflicts, cursor = list_conflicts(store.get(), g.app_id, status=args.get("status"),
                                           limit=args["limit"], cursor=args.get("cursor"))
        return {"conflicts": conflicts, "nextCursor": cursor}


@blp.route("/conflicts/<string:conflict_id>")
class Conflict(MethodView):
    @blp.doc(operationId="getConflict")
    @links(200, ResolveConflict=link("resolveConflict", "Resolve this conflict.",
                                     conflict_id="/id"))
    @require_scope("read")
    @blp.response(200, ConflictSchema)
    @blp.error(404, "No such conflict for this app.")
    def get(self, conflict_id):
        """Read one conflict"""
        conflict = get_conflict(store.get(), g.app_id, conflict_id)
        if conflict is None:
            abort(404, error="not_found", message=f"No conflict {conflict_id!r} for this app.")
        return conflict


@blp.route("/conflicts/<string:conflict_id>/resolve")
class ResolveConflict(MethodView):
    @blp.doc(operationId="resolveConflict")
    @require_scope("admin")
    @blp.arguments(ResolveSchema)
    @blp.response(200, ConflictSchema)
    @blp.error(404, "No such conflict for this app.")
    @blp.error(409, "The conflict was already resolved.")
    @blp.error(413, "The body is too large.")
    @blp.error(415, "The body is not JSON (or not gzip when so encoded).")
    def post(self, body, conflict_id):
        """Resolve a conflict

        `server` keeps the server's value, `client` takes the client's, `merged` applies `data`.
        A record gets the chosen value as its next version; the resolution is audited.
        """
        try:
            return resolve_conflict(store.get(), current_app.config, g.app_id, conflict_id,
                                    body["resolution"], body.get("data"),
                                    actor=f"api-key:{g.api_key['keyId']}")
        except ConflictError as exc:
            abort(exc.status, error=exc.code, message=exc.message, fields=exc.fields)


@blp.route("/metrics")
class Metrics(MethodView):
    @blp.doc(operationId="eventMetrics")
    @require_scope("read")
    @blp.arguments(MetricsQueryArgsSchema, location="query")
    @blp.response(200, MetricsSchema)
    def get(self, args):
        """Count events by type and by day

        From the applied telemetry, by the events' (skew-corrected) time, `from` inclusive and
        `to` exclusive.
        """
        return event_metrics(store.get(), g.app_id, args.get("from_"), args.get("to"))
