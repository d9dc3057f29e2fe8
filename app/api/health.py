"""Health: is the store up, is the scheduler running, is the queue moving; and the probes of an
orchestrator: live (the process serves) and ready (the store answers, at this release's schema
version). No auth, no secrets."""

from datetime import timedelta

from flask import current_app, jsonify
from flask.views import MethodView

from ..extensions import store
from ..schemas.telemetry import HealthSchema, LivenessSchema, ReadinessSchema
from ..store import StoreError
from ..store.common import utcnow
from ..store.schema import LATEST, SchemaMismatch, StoreTooNew, describe
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


@blp.route("/health/live")
class Liveness(MethodView):
    @blp.doc(operationId="getLiveness")
    @blp.response(200, LivenessSchema)
    def get(self):
        """Answer whenever the process serves requests (the store is not asked)"""
        return {"status": "live"}


def check_readiness(app):
    """(ready, answer): ready when the store answers and is at the schema version this release
    runs on; otherwise the answer names the reason, with a message that holds no secret (no
    path, no host)."""
    try:
        version = store.get(app).schema_version()
    except SchemaMismatch as exc:
        reason = "store_too_new" if isinstance(exc, StoreTooNew) else "upgrade_needed"
        return False, {"status": "not_ready", "reason": reason, "message": str(exc),
                       "schemaVersion": exc.version, "latestVersion": LATEST}
    except StoreError:
        return False, {"status": "not_ready", "reason": "store_down",
                       "message": "The store cannot be reached.", "latestVersion": LATEST}
    if version == LATEST:
        return True, {"status": "ready", "schemaVersion": version, "latestVersion": LATEST}
    # Opened at LATEST, and changed since: another release's process upgraded it (or, with
    # no process holding it, a backup was restored).
    newer = version is not None and version > LATEST
    return False, {
        "status": "not_ready", "reason": "store_too_new" if newer else "upgrade_needed",
        "message": f"The store is at {describe(version)}; this release runs on version "
                   f"{LATEST}." + (" Run the release that upgraded it." if newer else
                                   " Run `flask --app wsgi store upgrade`, then restart."),
        "schemaVersion": version, "latestVersion": LATEST}


@blp.route("/health/ready")
class Readiness(MethodView):
    @blp.doc(operationId="getReadiness")
    @blp.response(200, ReadinessSchema)
    @blp.alt_response(503, schema=ReadinessSchema, headers=RETRY_AFTER,
                      description="Not ready: the store is down, or at another schema version "
                                  "than this release's (`reason` says which).")
    def get(self):
        """Answer 200 only when the store answers and its schema version is current"""
        ready, answer = check_readiness(current_app)
        response = jsonify(answer)
        if not ready:
            response.status_code = 503
            response.headers["Retry-After"] = "5"
        return response
