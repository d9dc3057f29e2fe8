"""People: a person's profile (traits, anonymous ids, groups, first and last seen, events)."""

from flask import Response, current_app, g, stream_with_context
from flask.views import MethodView
from flask_smorest import abort

from ..extensions import store
from ..privacy.access import person_document_chunks, person_known
from ..schemas.people import PersonExportSchema, PersonQueryArgsSchema, PersonSchema
from ..sync.people import read_person
from .base import ApiBlueprint, header, path_parameter, require_scope

blp = ApiBlueprint("people", __name__, url_prefix="/api/telemetry",
                   description="Read the people the identity calls and events describe.")

# A userId as a path segment: no "/" (ask ?userId= for such an id), not "." or "..", and not
# "export" (/people/export is the export's query form: ask /people?userId=export).
PATH_USER_ID = r"^(?!\.\.?$)(?!export$)[^/]{1,256}$"
EXPORT_HEADERS = {"Content-Disposition": header(
    "`attachment; filename=\"person-export.json\"`: a browser saves the document.")}


def _person(user_id):
    person = read_person(store.get(), g.app_id, user_id)
    if person is None:
        abort(404, error="not_found", message=f"No person {user_id!r} in this app.")
    return person


@blp.route("/people")
class PersonByQuery(MethodView):
    @blp.doc(operationId="getPersonByQuery")
    @require_scope("read")
    @blp.arguments(PersonQueryArgsSchema, location="query")
    @blp.response(200, PersonSchema)
    @blp.error(404, "No such person in this app.")
    def get(self, args):
        """Read a person's profile, for any userId

        The same answer as /people/{user_id}, for ids a path cannot hold.
        """
        return _person(args["userId"])


@blp.route("/people/<string:user_id>", parameters=[
    path_parameter("user_id", PATH_USER_ID, "The person's userId.")])
class Person(MethodView):
    @blp.doc(operationId="getPerson")
    @require_scope("read")
    @blp.response(200, PersonSchema)
    @blp.error(404, "No such person in this app.")
    def get(self, user_id):
        """Read a person's profile

        Traits (the latest of each, with its time), the anonymous ids linked to the person,
        groups, first and last seen, and the number of events, the anonymous history of a
        linked visitor included. Counts follow the sync engine: events still in the queue are
        not counted yet.
        """
        return _person(user_id)


def _export(user_id):
    """The person's document, streamed as it is read (404 when the app holds nothing of them)."""
    the_store = store.get()
    if not person_known(the_store, g.app_id, user_id):
        abort(404, error="not_found", message=f"No person {user_id!r} in this app.")
    chunks = person_document_chunks(the_store, current_app.config, g.app_id, user_id)
    return Response(stream_with_context(chunks), mimetype="application/json", headers={
        "Content-Disposition": 'attachment; filename="person-export.json"'})


@blp.route("/people/export")
class PersonExportByQuery(MethodView):
    @blp.doc(operationId="exportPersonByQuery")
    @require_scope("read")
    @blp.arguments(PersonQueryArgsSchema, location="query")
    @blp.response(200, PersonExportSchema, headers=EXPORT_HEADERS)
    @blp.error(404, "The app holds nothing of this person.")
    def get(self, args):
        """Export a person's data, for any userId

        The same document as /people/{user_id}/export, for ids a path cannot hold. Without
        `userId` it answers 400 (a person named "export" is read with /people?userId=export).
        """
        return _export(args["userId"])


@blp.route("/people/<string:user_id>/export", parameters=[
    path_parameter("user_id", PATH_USER_ID, "The person's userId.")])
class PersonExport(MethodView):
    @blp.doc(operationId="exportPerson")
    @require_scope("read")
    @blp.response(200, PersonExportSchema, headers=EXPORT_HEADERS)
    @blp.error(404, "The app holds nothing of this person.")
    def get(self, user_id):
        """Export a person's data

        Everything the app holds of the person: the profile, events (those of the anonymous
        ids linked to them too), queue items with their payloads, records and record
        versions, conflicts and batch logs, as one JSON document (a data-access request).
        Streamed: it is read a chunk of rows at a time, whatever its size.
        """
        return _export(user_id)
