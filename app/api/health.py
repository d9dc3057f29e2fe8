"""Health: is the store up, is the scheduler running, is the queue moving. No auth, no secrets."""

from datetime import timedelta

from flask import current_app, jsonify
from flask.views import MethodView

from ..extensions import store
from ..schemas.telemetry import HealthSchema
from ..store import StoreError
from ..store.common import utcnow
from ..store.schema import SchemaMismatch, StoreTooNew
from ..sync.scheduling import scheduler_enabled
from .base import RETRY_AFTER, ApiBlueprint

blp = ApiBlueprint("health", __name__, url_prefix="/api", description="Service health.")

# The queue is stale when work waits and no sync ran for this many intervals (and 5 minutes).
STALE_INTERVALS = 3
STALE_FLOOR = timedelta(minutes=5)


def check_health(app):
    """(status, services) of SPEC.md §4's health answer."""
    try:
        the_store = store.get(app)
        the_store.ping()
        counts = the_store.queue_counts()
        last = the_store.last_sync_run()
        first = the_store.first_item_time()
    except SchemaMismatch as exc:
        database = "too_new" if isinstance(exc, StoreTooNew) else "upgrade_needed"
        return "unhealthy", {"database": database, "scheduler": "unknown",
                             "syncQueue": "unknown"}
    except StoreError:
        return "unhealthy", {"database": "down", "scheduler": "unknown", "syncQueue": "unknown"}
    if not app.config.get("ENABLE_SCHEDULED_SYNC"):
        scheduler_state = "disabled"
    else:
        scheduler_state = "running" if scheduler_enabled(app) else "stopped"
    waiting = counts.get("pending", 0) + counts.get("failed", 0)
    interval = timedelta(minutes=float(app.config["SYNC_INTERVAL_MINUTES"]))
    limit = max(STALE_INTERVALS * interval, STALE_FLOOR)
    # With no run yet, the queue is as old as its first item.
    since = (last.get("endTime") or last["startTime"]) if last else first
    stale = bool(waiting) and since is not None and utcnow() - since > limit
    queue_state = "stale" if stale else "ok"
    status = "degraded" if scheduler_state == "stopped" or stale else "healthy"
    return status, {"database": "up", "scheduler": scheduler_state, "syncQueue": queue_state}


@blp.route("/health")
class Health(MethodView):
    @blp.doc(operationId="getHealth")
    @blp.response(200, HealthSchema)
    @blp.alt_response(503, schema=HealthSchema, description="The store is down.",
                      headers=RETRY_AFTER)
    def get(self):
        """Report the service's health (healthy, degraded or unhealthy)"""
        status, services = check_health(current_app)
        response = jsonify({"status": status, "services": services})
        if status == "unhealthy":
            response.status_code = 503
            response.headers["Retry-After"] = "5"
        return response
