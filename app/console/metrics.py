"""Prometheus metrics at /metrics, computed from the store at scrape time (right across workers)."""

import hmac

from flask import Blueprint, Response, abort, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily

from ..extensions import store
from ..store.common import OPEN_STATES, QUEUE_STATES, utcnow

bp = Blueprint("metrics", __name__)


def _authorized():
    token = current_app.config.get("METRICS_TOKEN")
    if not token:
        return True
    given = request.headers.get("Authorization", "")
    return given.startswith("Bearer ") and hmac.compare_digest(given[7:].encode(), token.encode())


class StoreCollector:
    """Reads the store when scraped; families carry no `_created` series (they would be wrong)."""

    def __init__(self, the_store):
        self.store = the_store

    def collect(self):
        counts = self.store.console_queue_counts()
        conflicts = self.store.conflict_counts()
        runs = self.store.sync_run_totals()
        depth = GaugeMetricFamily("prepmate_queue_items", "Queue items by state.",
                                  labels=["state"])
        for state in QUEUE_STATES:
            depth.add_metric([state], counts.get(state, 0))
        yield depth
        # Discarded items leave the queue, so these count what the queue holds.
        yield CounterMetricFamily("prepmate_items_ingested", "Items accepted into the sync queue.",
                                  value=sum(counts.values()))
        yield CounterMetricFamily("prepmate_items_applied", "Items the sync engine applied.",
                                  value=counts.get("done", 0))
        yield GaugeMetricFamily("prepmate_items_failed", "Items failed, waiting for a retry.",
                                value=counts.get("failed", 0))
        yield GaugeMetricFamily("prepmate_items_dead", "Items dead-lettered after their retries.",
                                value=counts.get("dead", 0))
        oldest = self.store.oldest_item_time(OPEN_STATES)
        yield GaugeMetricFamily(
            "prepmate_queue_oldest_waiting_seconds",
            "Age of the oldest queue item waiting for the sync engine (pending, processing or "
            "failed); 0 when none waits.",
            value=max(0.0, (utcnow() - oldest).total_seconds()) if oldest else 0.0)
        by_status = GaugeMetricFamily("prepmate_conflicts", "Conflicts by status.",
                                      labels=["status"])
        for status in ("open", "resolved"):
            by_status.add_metric([status], conflicts.get(status, 0))
        yield by_status
        rejected = GaugeMetricFamily(
            "prepmate_items_rejected",
            "Items refused at ingest (each with its reason in its batch log), in the batch logs "
            "kept, by protocol.", labels=["protocol"])
        refused = self.store.rejected_counts()
        for source, protocol in (("client", "native"), ("segment", "segment"),
                                 ("posthog", "posthog")):
            rejected.add_metric([protocol], refused.get(source, 0))
        yield rejected
        yield SummaryMetricFamily("prepmate_sync_run_duration_seconds",
                                  "Sync runs (scheduled and manual) and the time they took.",
                                  count_value=runs["runs"], sum_value=runs["seconds"])


def collect(the_store):
    """A fresh registry that reads the store at scrape time (right across gunicorn workers)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(the_store))
    return registry


@bp.get("/metrics")
def metrics():
    """The Prometheus text format; with METRICS_TOKEN set, only for `Authorization: Bearer`."""
    if not _authorized():
        abort(401, description="Send the metrics token as `Authorization: Bearer <token>`.")
    body = generate_latest(collect(store.get()))
    return Response(body, mimetype=CONTENT_TYPE_LATEST.split(";")[0],
                    headers={"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"})
