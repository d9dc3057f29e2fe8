"""A worker whose lease ran out, and whose items another worker claimed since, cannot write their
outcome: only the claim's owner finishes an item."""

from datetime import timedelta

import pytest

from app.store.common import utcnow
from tests.store.helpers import event_item

pytestmark = pytest.mark.only_on(
    "mongo", reason="SQLite claims, applies and finishes a batch in one write transaction, so no "
    "other worker can take a claim in between: only MongoDB's claims carry an owner")


def outcome(item, status, **extra):
    return {"id": item["id"], "status": status, "attempts": item["attempts"],
            "leaseOwner": item["leaseOwner"], **extra}


def test_only_the_current_claim_owner_finishes_an_item(store):
    store.ingest("testapp", [event_item("a", app_id="testapp"),
                             event_item("b", app_id="testapp")])
    now = utcnow()
    first = store.claim_items(now, now + timedelta(seconds=1), 10)
    later = now + timedelta(seconds=5)  # the first lease has run out: the items are due again
    second = store.claim_items(later, later + timedelta(seconds=60), 10)
    assert [i["itemId"] for i in second] == ["a", "b"]
    assert first[0]["leaseOwner"] != second[0]["leaseOwner"]

    store.finish_items([outcome(first[0], "done"),
                        outcome(first[1], "failed", nextAttemptAt=later, lastError="late")], later)
    assert store.queue_counts("testapp") == {"processing": 2}

    store.finish_items([outcome(second[0], "done"), outcome(second[1], "dead", lastError="x")],
                       later)
    assert store.queue_counts("testapp") == {"done": 1, "dead": 1}
