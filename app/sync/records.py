"""The read side of sync: records changed since a checkpoint, and event counts."""


def pull_records(store, app_id, record_type=None, since=0, limit=100):
    """An app's records changed after checkpoint `since`, oldest first, and the next one."""
    rows = store.records_changed(app_id, record_type=record_type, since=since, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return {"records": rows, "nextSince": rows[-1]["changeSeq"] if rows else since,
            "hasMore": more}


def event_metrics(store, app_id, start=None, end=None):
    """Event counts of an app by eventType and by UTC day, `start` inclusive, `end` exclusive."""
    by_type, by_day_type = store.event_counts(app_id, start, end)
    days = {}
    for row in by_day_type:
        day = days.setdefault(row["day"], {"day": row["day"], "total": 0, "byType": {}})
        day["total"] += row["count"]
        day["byType"][row["eventType"]] = row["count"]
    return {"from": start, "to": end, "total": sum(r["count"] for r in by_type),
            "byType": by_type, "byDay": list(days.values())}
