"""The sync status apps and operators read: counts by state, last and next run, scheduler state."""

def sync_status(store, settings, scheduler, app_id=None, user_id=None):
    """`syncStatus` of SPEC.md §4, optionally narrowed to an app and a user; `scheduler` is the
    process's SchedulerState."""
    counts = store.queue_counts(app_id=app_id, user_id=user_id)
    last = store.last_sync_run()
    return {
        "lastSyncTime": last["endTime"] if last else None,
        "nextSyncTime": scheduler.next_run_time,
        "pendingItems": counts.get("pending", 0),
        "processingItems": counts.get("processing", 0),
        "failedItems": counts.get("failed", 0),
        "conflictItems": counts.get("conflict", 0),
        "deadItems": counts.get("dead", 0),
        "doneItems": counts.get("done", 0),
        "schedulerRunning": scheduler.running,
        "intervalMinutes": float(settings["SYNC_INTERVAL_MINUTES"]),
    }
