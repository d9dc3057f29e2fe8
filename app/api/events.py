"""Events: the key's app's events newest first, in keyset pages, and their streamed export."""

from flask import Response, g, jsonify
from flask.views import MethodView
from flask_smorest import abort

from ..extensions import store
from ..privacy.events import (
    MEDIA_TYPES,
    InvalidCursor,
    event_filters,
    events_page,
    export_pieces,
    json_ready,
)
from ..schemas.events_read import (
    EventPageSchema,
    EventsExportQueryArgsSchema,
    EventsQueryArgsSchema,
)
from .base import ApiBlueprint, header, require_scope

blp = ApiBlueprint("events", __name__, url_prefix="/api/telemetry",
                   description="Read and export the events the sync engine stored.")

EXPORT_RESPONSE = {
    "description": "Every matching event, newest first, streamed: NDJSON (one event per line, "
                   "each as in /events) or CSV (a header row, then one row per event; "
                   "eventData and metadata as JSON; a cell that a spreadsheet would read as a "
                   "formula starts with an apostrophe).",
    "content": {media.split(";")[0]: {"schema": {"type": "string"}}
                for media in MEDIA_TYPES.values()},
    "headers": {"Content-Disposition": header("`attachment; filename=events.<format>`.")},
}


def _filters(args):
    ids = [args[name] for name in ("userId", "anonymousId") if name in args]
    return event_filters(g.app_id, user_ids=ids, event_types=args.get("eventType"),
                         since=args.get("from_"), until=args.get("to"))


@blp.route("/events")
class Events(MethodView):
    @blp.doc(operationId="listEvents")
    @require_scope("read")
    @blp.arguments(EventsQueryArgsSchema, location="query")
    @blp.response(200, EventPageSchema)
    @blp.error(400, "A filter, the cursor or the limit is invalid (named in `fields`).")
    def get(self, args):
        """List events, newest first

        The key's app's stored events (those the sync engine has applied), newest first by
        their time, `from` inclusive and `to` exclusive; page with `cursor` (the previous
        page's `nextCursor`). Events of equal time are never skipped or repeated across pages.
        """
        try:
            events, cursor = events_page(store.get(), _filters(args), args.get("cursor"),
                                         args["limit"])
        except InvalidCursor:
            abort(400, error="invalid_cursor", message="The cursor is not one this API made.",
                  fields={"cursor": ["Not a cursor of this API: pass `nextCursor` as given."]})
        # Written by the app's orjson provider, not dumped field by field through the schema
        # (which documents it): a page of 1,000 events took ten times as long.
        return jsonify({"events": [json_ready(event) for event in events],
                        "nextCursor": cursor})


@blp.route("/events/export")
class EventsExport(MethodView):
    @blp.doc(operationId="exportEvents", responses={"200": EXPORT_RESPONSE})
    @require_scope("read")
    @blp.arguments(EventsExportQueryArgsSchema, location="query")
    @blp.error(400, "A filter or the format is invalid (named in `fields`).")
    def get(self, args):
        """Export events

        Every matching event of the key's app, newest first, streamed with the same memory
        whatever their number. The same filters as /events.
        """
        fmt = args["format"]
        pieces = export_pieces(store.get(), _filters(args), fmt)
        return Response(pieces, mimetype=MEDIA_TYPES[fmt].split(";")[0],
                        content_type=MEDIA_TYPES[fmt], headers={
                            "Content-Disposition": f"attachment; filename=events.{fmt}"})
