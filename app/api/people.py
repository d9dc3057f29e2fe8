"""People: a person's profile (traits, anonymous ids, groups, first and last seen, events)."""

from flask import g
from flask.views import MethodView
from flask_smorest import abort

from ..extensions import store
from ..schemas.people import PersonQueryArgsSchema, PersonSchema
from ..sync.people import read_person
from .base import ApiBlueprint, path_parameter, require_scope

blp = ApiBlueprint("people", __name__, url_prefix="/api/telemetry",
                   description="Read the people the identity calls and events describe.")

# A userId as a path segment: no "/" (ask ?userId= for such an id), not "." or "..".
PATH_USER_ID = r"^(?!\.\.?$)[^/]{1,256}$"


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
