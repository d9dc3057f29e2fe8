"""Many stored events, fast: telemetry documents written through the store port in one unit
(no HTTP, no queue), for the export tests and bench/console."""

from datetime import UTC, datetime, timedelta

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
PAD = "x" * 200


def event_doc(app_id, n, now=T0):
    """The n-th event of an app: one a second back from T0, ids that sort as they were made."""
    return {"appId": app_id, "eventId": f"{app_id}-e{n:07d}", "userId": f"u{n % 1000}",
            "anonymousId": None, "eventType": ("opened", "closed", "scored")[n % 3],
            "eventData": {"n": n, "pad": PAD}, "status": "applied",
            "metadata": {"clientTimestamp": (T0 - timedelta(seconds=n)).isoformat()},
            "payloadHash": f"h{n}", "timestamp": T0 - timedelta(seconds=n), "createdAt": now}


def seed_events(store, app_id, count, chunk=20000):
    """Store `count` events of `app_id` (event_doc 0..count-1)."""
    for start in range(0, count, chunk):
        with store.unit_of_work(durable=False):
            store.insert_events([event_doc(app_id, n)
                                 for n in range(start, min(count, start + chunk))])
