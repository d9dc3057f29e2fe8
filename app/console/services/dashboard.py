"""The dashboard: counts by state, sync times, the scheduler's state and the last hour."""

from datetime import timedelta

from ...store.common import utcnow
from .charts import CHART_MINUTES, chart


def dashboard(store, settings, scheduler):
    """Counts by state, sync times, the scheduler's state (a SchedulerState) and the last
    hour's chart."""
    counts = store.console_queue_counts()
    last = store.last_sync_run()
    conflicts = store.conflict_counts()
    return {
        "counts": counts,
        "total": sum(counts.values()),
        "openConflicts": conflicts.get("open", 0),
        "lastRun": last,
        "nextSyncTime": scheduler.next_run_time,
        "schedulerRunning": scheduler.running,
        "intervalMinutes": float(settings["SYNC_INTERVAL_MINUTES"]),
        "chart": chart(store.sync_minutes(utcnow() - timedelta(minutes=CHART_MINUTES))),
    }
