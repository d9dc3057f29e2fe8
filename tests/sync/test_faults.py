"""One item never stops the others: a fault on one item's read-back, apply, stored event,
conflict or outcome fails that item alone, with its reason; the rest of its batch is done, and
the next run is clean."""

import math
from functools import partial

import pytest

from app.store import DataRejected, StoreError, StoreUnavailable

from .faults import Faults
from .helpers import edit, event, item, later, send, sync

pytestmark = pytest.mark.both_stores

UNEXPECTED = partial(RuntimeError, "injected: the item broke")
STORE_ERROR = partial(StoreError, "injected: the store refused it")
# What each step's failure reason starts with, in the queue and the batch log.
REASONS = {
    "read": "stored item cannot be read: ",
    "apply": "cannot apply: ",
    "store": "cannot store its event: ",
    "conflict": "cannot open its conflict: ",
    "finish": "its outcome cannot be stored: ",
}


@pytest.fixture
def app_config():
    return {"SYNC_MAX_RETRIES": 3, "SYNC_BACKOFF_BASE_SECONDS": 10,
            "SYNC_BACKOFF_MAX_SECONDS": 25}


@pytest.fixture
def other(api_key):
    """Headers of a second app."""
    return {"Authorization": f"Bearer {api_key('ingest', 'otherapp')}"}


def five_items(client, auth, store, app, step):
    """Send a batch of three events and two record edits; returns the itemId the fault hits.

    For the conflict step, e2 is stored first and comes back with another payload.
    """
    e2 = event("e2")
    if step == "conflict":
        send(client, auth, [e2])
        sync(app, store)
        e2 = event("e2", eventData={"questionId": "other"})
    answer = send(client, auth, [event("e1"), e2, event("e3"), edit("n1", "r1", 0, {"t": 1}),
                                 edit("n2", "r2", 0, {"t": 2})])
    if step == "conflict":  # the queue keeps the re-used id under a variant id
        return next(i["itemId"] for i in store.batch_items("testapp", answer["batchId"])
                    if i["itemId"].startswith("e2~"))
    return "n2" if step == "apply" else "e2"


def the_others_applied(store, chosen):
    """Everything of the batch but the chosen item is stored and done."""
    for event_id in ("e1", "e2", "e3"):
        if event_id != chosen:
            assert item(store, event_id)["status"] == "done"
            assert store.get_event("testapp", event_id) is not None
    for item_id, record_id in (("n1", "r1"), ("n2", "r2")):
        if item_id != chosen:
            assert item(store, item_id)["status"] == "done"
            assert store.get_record("testapp", "note", record_id) is not None


def events_of(store, app_id="testapp"):
    """How many events of an app telemetry holds (the console's counts)."""
    return sum(row["count"] for row in store.event_type_counts() if row["appId"] == app_id)


CASES = [pytest.param(step, UNEXPECTED, id=f"{step}-unexpected",
                      marks=pytest.mark.logs_errors) for step in REASONS] + [
    pytest.param(step, STORE_ERROR, id=f"{step}-store_error") for step in REASONS]


@pytest.mark.parametrize(("step", "error"), CASES)
def test_a_fault_on_one_item_fails_it_alone_and_the_next_run_is_clean(
        client, auth, other, store, app, monkeypatch, step, error):
    chosen = five_items(client, auth, store, app, step)
    faults = Faults(monkeypatch, store, step, error, [chosen])
    now = later(0)
    [log] = sync(app, store, at=now)

    assert faults.raised[chosen] >= 1
    assert (log["itemCount"], log["successCount"], log["failureCount"]) == (5, 4, 1)
    assert log["status"] == "partial"
    failed = item(store, chosen)
    temporary = error is STORE_ERROR
    assert failed["status"] == ("failed" if temporary else "dead")
    assert failed["lastError"].startswith(REASONS[step])
    assert "injected" in failed["lastError"]
    assert log["errors"] == [{"itemId": chosen, "appId": "testapp", "status": failed["status"],
                              "reason": failed["lastError"]}]
    the_others_applied(store, chosen)

    # The next run claims nothing of this batch again, and another app's items apply.
    send(client, other, [event("o1"), event("o2")])
    [log] = sync(app, store, at=later(1))
    assert (log["itemCount"], log["successCount"]) == (2, 2)
    assert store.get_event("otherapp", "o1") and store.get_event("otherapp", "o2")
    assert sync(app, store, at=later(1))[0]["itemCount"] == 0

    if temporary:
        # Its retry, once due, goes through (the store took it this time) and stores it once.
        faults.heal()
        [log] = sync(app, store, at=failed["nextAttemptAt"])
        assert log["failureCount"] == 0
        assert item(store, chosen)["status"] == ("conflict" if step == "conflict" else "done")
        assert events_of(store) == 3
        if step == "conflict":
            assert len(store.list_conflicts("testapp", status="open")) == 1
    else:
        assert sync(app, store, at=later(3600))[0]["itemCount"] == 0
        assert item(store, chosen)["status"] == "dead"


@pytest.mark.parametrize("bad", [["e17"], ["e00", "e39"]])
def test_a_failing_bulk_insert_is_split_until_the_bad_events_are_found(
        client, auth, store, app, monkeypatch, bad):
    send(client, auth, [event(f"e{n:02}") for n in range(40)])
    faults = Faults(monkeypatch, store, "store", partial(DataRejected, "injected: refused"),
                    bad)
    [log] = sync(app, store)
    assert (log["itemCount"], log["successCount"], log["failureCount"]) == (40, 40 - len(bad),
                                                                            len(bad))
    assert sorted(error["itemId"] for error in log["errors"]) == bad
    for item_id in bad:
        dead = item(store, item_id)
        assert dead["status"] == "dead"
        assert dead["lastError"] == "cannot store its event: injected: refused"
        assert store.get_event("testapp", item_id) is None
    assert store.queue_counts("testapp") == {"done": 40 - len(bad), "dead": len(bad)}
    # The others are each stored once, found by halving the insert, not one insert per event.
    assert events_of(store) == 40 - len(bad)
    assert faults.calls["insert_events"] <= 1 + len(bad) * 2 * math.ceil(math.log2(40))
    assert sync(app, store)[0]["itemCount"] == 0


def test_a_sequenced_event_whose_insert_fails_applies_on_its_retry(
        client, auth, store, app, monkeypatch):
    send(client, auth, [event("s1", seq=1), event("s2", seq=2), event("s3", seq=3)],
         clientId="c1")
    faults = Faults(monkeypatch, store, "store", STORE_ERROR, ["s2"])
    [log] = sync(app, store)
    assert (log["successCount"], log["failureCount"]) == (2, 1)
    retry_at = item(store, "s2")["nextAttemptAt"]
    faults.heal()
    [log] = sync(app, store, at=retry_at)
    # Not taken for a duplicate of a seq already passed: it is stored.
    assert (log["successCount"], log["duplicateCount"]) == (1, 0)
    assert store.get_event("testapp", "s2") is not None
    assert events_of(store) == 3


def test_a_store_outage_in_a_bulk_write_still_retries_the_whole_batch(
        client, auth, store, app, monkeypatch):
    send(client, auth, [event("e1"), event("e2"), event("e3")])
    faults = Faults(monkeypatch, store, "store", partial(StoreUnavailable, "disk I/O error"),
                    ["e2"])
    [log] = sync(app, store)
    assert (log["status"], log["failureCount"]) == ("error", 3)
    assert store.queue_counts("testapp") == {"failed": 3}
    assert all("store unavailable: disk I/O error" in item(store, i)["lastError"]
               for i in ("e1", "e2", "e3"))
    faults.heal()
    logs = sync(app, store, at=later(11))
    # (MongoDB may have stored some of the events before the outage: those are duplicates.)
    assert sum(log["successCount"] + log["duplicateCount"] for log in logs) == 3
    assert store.queue_counts("testapp") == {"done": 3}
    assert events_of(store) == 3
