"""What tests read from or arrange in a store, on either store, through the port.

`backdate` is the one thing here the port has no operation for (nothing in the service moves
time backwards): it is written once per adapter, so the tests themselves stay store-neutral.
"""

from app.store.common import utcnow


def telemetry_count(store, app_id="testapp"):
    """How many telemetry events the app has stored."""
    by_type, _by_day = store.event_counts(app_id)
    return sum(row["count"] for row in by_type)


def stored_event_ids(store, event_ids, app_id="testapp"):
    """The eventIds among `event_ids` stored as telemetry."""
    return set(store.event_hashes(app_id, list(event_ids)))


def put_in_state(store, item_id, status, error="the store timed out", attempts=3,
                 app_id="testapp"):
    """Leave a queue item as the sync engine would after `attempts` failed tries."""
    queued = store.get_queue_item(app_id, item_id)
    store.finish_items([{"id": queued["id"], "status": status, "attempts": attempts,
                         "nextAttemptAt": None, "lastError": error}], utcnow())


def backdate(store, item_ids, when, app_id="testapp"):
    """Make queue items look written at `when` (createdAt and updatedAt)."""
    item_ids = list(item_ids)
    if store.kind == "sqlite":
        marks = ", ".join("?" * len(item_ids))
        with store._transaction() as conn:
            conn.execute(f"UPDATE sync_queue SET createdAt = ?, updatedAt = ? "
                         f"WHERE appId = ? AND itemId IN ({marks})",
                         (when.timestamp(), when.timestamp(), app_id, *item_ids))
    else:
        store.db.sync_queue.update_many({"appId": app_id, "itemId": {"$in": item_ids}},
                                        {"$set": {"createdAt": when, "updatedAt": when}})


def take_down(store, monkeypatch):
    """Make every operation of the port fail as an unreachable store does (StoreUnavailable),
    on either store; monkeypatch puts them back after the test."""
    from app.store import StoreUnavailable
    from app.store.port import Store

    def down(*args, **kwargs):
        raise StoreUnavailable("the store cannot be reached")

    for name in dir(Store):
        if not name.startswith("_") and name not in ("close", "reset", "kind", "capability"):
            monkeypatch.setattr(store, name, down)
