"""Sync endpoints: run a sync, pull changed records, read and resolve conflicts, event metrics."""

from flask import current_app, g
from flask.views import MethodView
from flask_smorest import abort

from ..extensions import store
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
    SyncRunSchema,
)
from ..sync.conflicts import ConflictError, get_conflict, list_conflicts, resolve_conflict
from ..sync.engine import summarize_run
from ..sync.jobs import run_exclusive
from ..sync.records import event_metrics, pull_records
from .base import ApiBlueprint, require_scope

blp = ApiBlueprint("sync", __name__, url_prefix="/api/telemetry",
                   description="Run the sync, pull records, resolve conflicts, read metrics.")


@blp.route("/sync")
class SyncNow(MethodView):
    @require_scope("admin")
    @blp.response(200, SyncRunSchema)
    @blp.alt_response(409, description="A sync is already running (here or in another process).")
    def post(self):
        """Run a sync now

        Applies every due queue item (until the run's time budget is spent) and answers the
        run's totals and batch logs. Only one sync runs at a time across all processes.
        """
        logs = run_exclusive(current_app._get_current_object(), "manual")
        if logs is None:
            abort(409, error="sync_in_progress",
                  message="A sync is already running; try again when it has finished.")
        return summarize_run(logs, app_id=g.app_id)


@blp.route("/records")
class Records(MethodView):
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


@blp.route("/records/<string:record_type>/<string:record_id>")
class Record(MethodView):
    @require_scope("read")
    @blp.response(200, RecordSchema)
    @blp.alt_response(404, description="No such record for this app.")
    def get(self, record_type, record_id):
        """Read one record with its version"""
        record = store.get().get_record(g.app_id, record_type, record_id)
        if record is None:
            abort(404, error="not_found",
                  message=f"No {record_type!r} record {record_id!r} for this app.")
        return record


@blp.route("/conflicts")
class Conflicts(MethodView):
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
    @require_scope("read")
    @blp.response(200, ConflictSchema)
    @blp.alt_response(404, description="No such conflict for this app.")
    def get(self, conflict_id):
        """Read one conflict"""
        conflict = get_conflict(store.get(), g.app_id, conflict_id)
        if conflict is None:
            abort(404, error="not_found", message=f"No conflict {conflict_id!r} for this app.")
        return conflict


@blp.route("/conflicts/<string:conflict_id>/resolve")
class ResolveConflict(MethodView):
    @require_scope("admin")
    @blp.arguments(ResolveSchema)
    @blp.response(200, ConflictSchema)
    @blp.alt_response(404, description="No such conflict for this app.")
    @blp.alt_response(409, description="The conflict was already resolved.")
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
    @require_scope("read")
    @blp.arguments(MetricsQueryArgsSchema, location="query")
    @blp.response(200, MetricsSchema)
    def get(self, args):
        """Count events by type and by day

        From the applied telemetry, by the events' (skew-corrected) time, `from` inclusive and
        `to` exclusive.
        """
        return event_metrics(store.get(), g.app_id, args.get("from_"), args.get("to"))
