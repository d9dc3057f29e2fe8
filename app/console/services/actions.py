"""What operators do to queue items: retry or discard one, or every one a filter matches.

Only items waiting for a human (failed or dead) are acted on: a filter naming other states
acts on none of them, and an item that moved on since the page was drawn is left alone.
"""

from ...accounts import audit
from ...store.common import utcnow
from .filters import describe
from .queue import match

ACTIONABLE_STATES = ("failed", "dead")


def actionable(filters):
    """The states of `filters` an action may touch (every actionable one when none is named)."""
    return [s for s in filters.get("statuses") or ACTIONABLE_STATES if s in ACTIONABLE_STATES]


def retry_item(store, item, actor):
    """Put one failed or dead item back to pending; True when it was."""
    done = store.retry_queue_items(utcnow(), ACTIONABLE_STATES, ids=[item["id"]]) == 1
    if done:
        audit.record(store, actor, "queue.retry", f"item:{item['itemId']}",
                     appId=item["appId"], previousStatus=item["status"])
    return done


def discard_item(store, item, actor):
    """Delete one failed or dead item from the queue; True when it was."""
    done = store.discard_queue_items(ACTIONABLE_STATES, ids=[item["id"]]) == 1
    if done:
        audit.record(store, actor, "queue.discard", f"item:{item['itemId']}",
                     appId=item["appId"], previousStatus=item["status"],
                     lastError=item.get("lastError"))
    return done


def bulk(store, action, filters, actor, expected=None):
    """Retry or discard every failed/dead item matching the filters; returns how many."""
    states = actionable(filters)
    if not states:
        count = 0
    elif action == "retry":
        count = store.retry_queue_items(utcnow(), states, match=match(filters))
    else:
        count = store.discard_queue_items(states, match=match(filters))
    audit.record(store, actor, f"queue.bulk_{action}", describe(filters), count=count,
                 confirmedCount=expected)
    return count
