"""Erasure: delete a person's data (202, done in the background) and follow the deletion."""

from flask import current_app, g, url_for
from flask.views import MethodView
from flask_smorest import abort
from werkzeug.routing import UnicodeConverter

from ..extensions import store
from ..privacy.erasure import get_deletion, request_deletion
from ..schemas.erasure import (
    DeleteByQueryArgsSchema,
    DeleteQueryArgsSchema,
    DeletionAcceptedSchema,
    DeletionSchema,
)
from ..sync.scheduling import erase_soon
from .base import ApiBlueprint, link, links, path_parameter, require_scope
from .people import PATH_USER_ID

blp = ApiBlueprint("erasure", __name__, url_prefix="/api/telemetry",
                   description="Erase a person's data, and follow the erasure.")


class PersonPathId(UnicodeConverter):
    """A userId as one path segment, but not "export": /people/export is the export's own path
    (GET), so DELETE there answers 405 rather than erase a person named "export" (whom
    DELETE /people?userId=export erases)."""

    def __init__(self, url_map, *args, **kwargs):
        super().__init__(url_map, *args, **kwargs)
        self.regex = rf"(?!export$){self.regex}"


# Before the routes below are added (deferred functions run in the order they were recorded).
blp.record_once(lambda state: state.app.url_map.converters.setdefault(
    "person_path_id", PersonPathId))

LOCATION = {"Location": {"description": "The deletion's URL: GET it to follow the erasure.",
                         "schema": {"type": "string"}, "required": True}}
ERASES = """Erases, in the background and in bounded steps, every trace of the person in the
calling app: their events (those of their anonymous ids too), queue items, records and their
versions, conflicts, profile and identities; batch logs keep their counts but lose the userId
and the person's items; audit entries lose copies of their data. The erased eventIds, itemIds
and batchIds are remembered as keyed hashes, so a resend is answered `duplicate` and not
stored again. Answers 202 at once, with the deletion's URL in `Location`: GET it to follow the
erasure. An unknown person is answered the same (nothing to erase), so the answer never tells
whether the person existed."""
FOLLOW = links(202, Deletion=link("getDeletion", "Follow the erasure.",
                                  deletion_id="/deletionId"))


def _delete(user_id, args):
    suppress = args["suppress"] == "true"
    deletion = request_deletion(store.get(), current_app.config, g.app_id, user_id,
                                suppress=suppress, requested_by=f"key:{g.api_key['keyId']}")
    erase_soon()
    url = url_for("erasure.Deletion", deletion_id=deletion["deletionId"])
    return dict(deletion, url=url), 202, {"Location": url}


@blp.route("/people")
class PersonErasureByQuery(MethodView):
    @blp.doc(operationId="deletePersonByQuery")
    @FOLLOW
    @require_scope("admin")
    @blp.arguments(DeleteByQueryArgsSchema, location="query")
    @blp.response(202, DeletionAcceptedSchema, headers=LOCATION,
                  description="The erasure is recorded and runs in the background.")
    def delete(self, args):
        """Erase a person, for any userId

        The same as DELETE /people/{user_id}, for ids a path cannot hold.
        """
        return _delete(args["userId"], args)


@blp.route("/people/<person_path_id(maxlength=256):user_id>", parameters=[
    path_parameter("user_id", PATH_USER_ID, "The person's userId or anonymousId.")])
class PersonErasure(MethodView):
    @blp.doc(operationId="deletePerson", description=ERASES)
    @FOLLOW
    @require_scope("admin")
    @blp.arguments(DeleteQueryArgsSchema, location="query")
    @blp.response(202, DeletionAcceptedSchema, headers=LOCATION,
                  description="The erasure is recorded and runs in the background.")
    def delete(self, args, user_id):
        """Erase a person"""
        return _delete(user_id, args)


@blp.route("/deletions/<string:deletion_id>")
class Deletion(MethodView):
    @blp.doc(operationId="getDeletion")
    @require_scope("admin")
    @blp.response(200, DeletionSchema)
    @blp.error(404, "No such deletion in this app.")
    def get(self, deletion_id):
        """Follow an erasure

        Its status (`pending`, `running`, `done`), the phase it is at and the rows erased so
        far. `done` only once the store's freed bytes are overwritten as well.
        """
        found = get_deletion(store.get(), g.app_id, deletion_id)
        if found is None:
            abort(404, error="not_found", message=f"No deletion {deletion_id[:100]!r}.")
        return found
