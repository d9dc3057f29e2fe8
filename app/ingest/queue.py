"""The ingest rules, written once above the store: replay, duplicates, variants and the backlog.

`enqueue` decides, for every valid item, whether it is new, a duplicate, a replay of the same
batch or a re-used id with another payload (kept under a variant id so the sync engine can raise
a conflict), refuses a call that would take a user's open backlog past its limit, and writes the
new items and the batch log, all inside one `store.unit_of_work()`. The store only answers small
questions (which of these ids exist, how many open items these users have) and writes what it is
given: one transaction on SQLite; on MongoDB ordered, idempotent writes, the unique
(appId, itemId) index keeping every item once even when two writers race. A crash between the
items and the batch log (MongoDB) is repaired by the client's resend: it finds its own items
stored under its batchId, and they are answered `accepted` again.
"""

from ..store.common import OPEN_STATES
from ..store.errors import BacklogFull
from .suppression import CLEAR, screen


def variant_item_id(item_id, payload_hash):
    """The queue id kept for a re-used id that arrived with another payload."""
    return f"{item_id}~{payload_hash[:16]}"


def classify(items, existing):
    """Decide each item's ingest outcome against what the queue already holds.

    `existing` maps itemId -> (batchId, payloadHash) for ids already stored (variant ids
    included). An id answered earlier in the same call is a `duplicate`. An item the queue
    lacks is inserted; one stored by the same batch with the same payload is that batch being
    replayed (answered `accepted` again); the same payload from elsewhere is a `duplicate`; a
    different payload under a known id is kept under a variant id so the sync engine can raise
    a conflict, and is `accepted`. Returns (items to insert, outcomes in input order).
    """
    seen = dict(existing)
    answered = set()
    to_insert = []
    outcomes = []
    for item in items:
        item_id = item["itemId"]
        stored = seen.get(item_id)
        if stored is not None and stored[1] != item["payloadHash"]:
            item = dict(item, itemId=variant_item_id(item_id, item["payloadHash"]),
                        conflictOf=item_id)
            stored = seen.get(item["itemId"])
        item_id = item["itemId"]
        if item_id in answered:
            outcomes.append(("duplicate", item_id))
        elif stored is None:
            to_insert.append(item)
            outcomes.append(("accepted", item_id))
        elif item.get("batchId") is not None and stored[0] == item.get("batchId"):
            outcomes.append(("accepted", item_id))
        else:
            outcomes.append(("duplicate", item_id))
        seen.setdefault(item_id, (item.get("batchId"), item["payloadHash"]))
        answered.add(item_id)
    return to_insert, outcomes


def check_backlog(store, app_id, items, max_open):
    """Raise BacklogFull when the items would take a user's open queue entries (pending,
    processing or failed: all still waiting for the sync engine) past `max_open`."""
    incoming = {}
    for item in items:
        incoming[item.get("userId")] = incoming.get(item.get("userId"), 0) + 1
    open_items = store.open_item_counts(app_id, list(incoming), OPEN_STATES)
    for user_id, count in incoming.items():
        if open_items[user_id] + count > max_open:
            raise BacklogFull(user_id, open_items[user_id], max_open)


def enqueue(store, app_id, items, *, max_open=None, batch_id=None, make_batch_log=None,
            settings=None, batch_user_id=None):
    """Store accepted items as pending queue entries, exactly once, as one unit of work.

    `items` are queue documents (validate.item_document). With `batch_id`, a batch log already
    stored under that id means a replay: nothing is written and (None, stored log) comes back.
    Otherwise returns (outcomes, log): outcomes are (status, itemId) pairs in input order and
    `make_batch_log(outcomes)` builds the log written in the same unit (log None without it).
    Raises BacklogFull, storing nothing, when a user's open items would pass `max_open`.

    With `settings` (the services always give them), erased ids and suppressed people are
    screened first (ingest/suppression.py): their items answer `duplicate` or `suppressed`
    and are not stored, a batch log never keeps a suppressed person's id (`batch_user_id`,
    the batch's own userId, is screened too), and an erased batchId answers every item
    `duplicate` and writes nothing (log None).
    """
    # Items are encoded for the store before the unit begins, so other writers wait less on
    # SQLite's write lock; only an item classify() re-keys (a re-used id) is encoded inside.
    prepared = dict(zip(map(id, items), store.prepare_items(items), strict=True))
    with store.unit_of_work():
        screening = CLEAR if settings is None else screen(
            store, settings, app_id, items, batch_id, batch_user_id)
        if screening.batch_erased:
            return [("duplicate", item["itemId"]) for item in items], None
        if batch_id is not None:
            stored = store.get_batch_log(app_id, batch_id)
            if stored is not None:
                return None, stored
        held = screening.held
        if held:
            answered = items
            items = [item for pos, item in enumerate(items) if pos not in held]
        # (A compatible batch whose every message was refused is logged with no items.)
        existing = store.existing_items(app_id, [i["itemId"] for i in items]) if items else {}
        variants = [variant_item_id(i["itemId"], i["payloadHash"]) for i in items
                    if i["itemId"] in existing and existing[i["itemId"]][1] != i["payloadHash"]]
        if variants:
            existing.update(store.existing_items(app_id, variants))
        to_insert, outcomes = classify(items, existing)
        if max_open is not None and to_insert:
            check_backlog(store, app_id, to_insert, max_open)
        if to_insert:
            # Another writer may have stored an id since the look-up (MongoDB has no
            # transaction): that item is a duplicate of what it stored.
            raced = store.insert_items([
                prepared[id(item)] if id(item) in prepared else store.prepare_items([item])[0]
                for item in to_insert])
            if raced:
                outcomes = [("duplicate", item_id) if item_id in raced else (status, item_id)
                            for status, item_id in outcomes]
        if held:
            # Back in input order, the screened items with their answers.
            live = iter(outcomes)
            outcomes = [(held[pos], item["itemId"]) if pos in held else next(live)
                        for pos, item in enumerate(answered)]
        batch_log = None
        if make_batch_log is not None:
            batch_log = dict(make_batch_log(outcomes), appId=app_id)
            if batch_log.get("userId") in screening.suppressed_people:
                batch_log["userId"] = None
            if not store.insert_batch_log(batch_log):
                # The same batch, sent twice at once, was logged first by the other request.
                return None, store.get_batch_log(app_id, batch_id)
    return outcomes, batch_log
