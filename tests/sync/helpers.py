"""Sending items through the real ingest API and running the engine, for the sync tests."""

import threading
from contextlib import contextmanager
from datetime import timedelta

from app.extensions import store as store_ext
from app.store.common import utcnow, uuid7
from app.sync.engine import run_sync

_batches = iter(range(10**9))


def send(client, auth, items, user_id="u1", **envelope):
    """POST a batch; asserts every item was accepted and returns the answer."""
    body = {"batchId": f"b-{next(_batches)}-{uuid7()[-6:]}", "userId": user_id, "items": items,
            **envelope}
    response = client.post("/api/telemetry/batch", json=body, headers=auth)
    assert response.status_code == 202, response.get_json()
    answer = response.get_json()
    assert answer["rejected"] == 0, answer
    return answer


def event(event_id=None, event_type="practice_question_answered", **extra):
    return {"eventId": event_id or uuid7(), "eventType": event_type,
            "eventData": extra.pop("eventData", {"questionId": "q1"}), **extra}


def edit(item_id, record_id, base_version, data, record_type="note", **extra):
    return {"itemType": record_type, "itemId": item_id, "recordId": record_id,
            "baseVersion": base_version, "data": data, **extra}


def sync(app, store, at=None, **settings):
    """Run the engine once (optionally with a shifted clock) and return its batch logs."""
    config = dict(app.config, **settings)
    clock = (lambda: at) if at is not None else utcnow
    return run_sync(store, config, source="manual", clock=clock)


def later(seconds):
    return utcnow() + timedelta(seconds=seconds)


def item(store, item_id, app_id="testapp"):
    return store.get_queue_item(app_id, item_id)


class HeldRuns:
    """The app's store, except that a sync run's first progress note (after its first batch)
    waits until `release()`: the run is then held mid-way, between two batches, holding its
    lease and no transaction. Only the first `hold` runs noting progress are held."""

    def __init__(self, real, hold=1):
        self._real = real
        self._hold = hold
        self._held = set()
        self._lock = threading.Lock()
        self.reached = threading.Event()
        self.released = threading.Event()

    def __getattr__(self, name):
        return getattr(self._real, name)

    def update_sync_run(self, run_id, changes, durable=True):
        done = self._real.update_sync_run(run_id, changes, durable)
        if "state" not in changes:  # a progress note, not the run's end
            with self._lock:
                hold = run_id not in self._held and len(self._held) < self._hold
                self._held.add(run_id)
            if hold:
                self.reached.set()
                assert self.released.wait(30), "a held sync run was never released"
        return done

    def release(self):
        self.released.set()


@contextmanager
def held_runs(app, hold=1):
    """Serve the app from a HeldRuns store for the block; held runs are released at its end."""
    state = app.extensions["prepmate.store"]
    real = store_ext.get(app)
    state["store"] = held = HeldRuns(real, hold)
    try:
        yield held
    finally:
        held.release()
        state["store"] = real


def manual_conflict(client, auth, store, app):
    """A manual conflict on note r1 of testapp, made through the API and the engine: server
    {"title": "server"}, client {"title": "client"}; returns it."""
    send(client, auth, [edit("v1", "r1", 0, {"title": "base"})])
    sync(app, store)
    send(client, auth, [edit("v2", "r1", 1, {"title": "server"})])
    sync(app, store)
    send(client, auth, [edit("c1", "r1", 1, {"title": "client"}, conflictResolution="manual")])
    sync(app, store)
    [conflict] = store.list_conflicts("testapp", status="open")
    return conflict
