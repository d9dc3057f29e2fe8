"""Suppressions: whether an erased person's items are refused at ingest, and lifting it."""

from flask import current_app, g
from flask.views import MethodView

from ..extensions import store
from ..privacy.suppression import lift, suppression_state
from ..schemas.suppressions import LiftedSchema, SuppressionQueryArgsSchema, SuppressionSchema
from .base import ApiBlueprint, require_scope

blp = ApiBlueprint("suppressions", __name__, url_prefix="/api/telemetry",
                   description="The people whose items are refused at ingest, after an erasure.")


@blp.route("/suppressions")
class Suppressions(MethodView):
    @blp.doc(operationId="getSuppression")
    @require_scope("admin")
    @blp.arguments(SuppressionQueryArgsSchema, location="query")
    @blp.response(200, SuppressionSchema)
    def get(self, args):
        """Say whether a person is suppressed

        A person erased with `suppress=true` is suppressed: each of their items (by userId,
        anonymousId or an alias's previousId) is answered `suppressed` and not stored. The list
        keeps a keyed hash of the id, never the id.
        """
        return suppression_state(store.get(), current_app.config, g.app_id, args["userId"])

    @blp.doc(operationId="liftSuppression")
    @require_scope("admin")
    @blp.arguments(SuppressionQueryArgsSchema, location="query")
    @blp.response(200, LiftedSchema)
    def delete(self, args):
        """Lift a person's suppression

        The person's items are taken again from now on (what was erased stays erased, and a
        resend of an erased id is still answered `duplicate`). Idempotent: `lifted` is false
        when the person was not suppressed. Audited, with the hash of the id.
        """
        lifted = lift(store.get(), current_app.config, g.app_id, args["userId"],
                      actor=f"key:{g.api_key['keyId']}")
        return {"userId": args["userId"], "lifted": lifted}
