"""Erased and suppressed people at ingest: the items of a call answered without being stored.

The rules (SPEC §12), applied by `enqueue` inside its unit of work, so that an erasure or a
suppression committed before a call is seen by it:
- an item whose batchId was erased (tombstoned) answers `duplicate`, every item of the batch:
  it is a resend of data that was stored and then erased, and its batch log may be gone;
- an item whose id (eventId or itemId) was erased answers `duplicate`, and is not stored again;
- an item of a suppressed person (its userId, its anonymousId, or an alias's previousId)
  answers `suppressed`, a final answer, and is not stored.

An erased id wins over a suppressed person: an SDK resending what was erased hears `duplicate`,
as for anything the server already has; only new items hear `suppressed`.

What it costs: one `privacy_marks` per call (two EXISTS on primary keys) for every app, and
nothing else for an app that never erased anyone. Only when the app has suppressions are the
call's distinct people hashed and looked up (one query); only when it has tombstones are its
item ids (as event and as item) and its batchId hashed and looked up (one query).
"""

from dataclasses import dataclass, field

import orjson

from ..accounts.privacy import BATCH, EVENT, ITEM, PERSON, erasure_secret, keyed_hash

# The fields of an item's data that name a person (besides the queue entry's own userId).
PERSON_FIELDS = ("userId", "anonymousId", "previousId")
SUPPRESSED = "suppressed"


@dataclass(frozen=True)
class Screening:
    """What `screen` found: the batch erased as a whole, the positions (in the items given)
    answered `duplicate` or `suppressed`, and the clear ids found suppressed."""

    batch_erased: bool = False
    held: dict = field(default_factory=dict)
    suppressed_people: frozenset = frozenset()


CLEAR = Screening()


def people_of(item):
    """The person ids a queue document names: its userId, and its data's userId, anonymousId
    and previousId."""
    found = set()
    if isinstance(item.get("userId"), str):
        found.add(item["userId"])
    data = item.get("itemData")
    value = getattr(data, "value", None)
    if value is None and isinstance(data, str):
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError:
            value = None
    elif value is None:
        value = data
    if isinstance(value, dict):
        found.update(value[name] for name in PERSON_FIELDS if isinstance(value.get(name), str))
    return found


def screen(store, settings, app_id, items, batch_id=None, batch_user_id=None):
    """Which of `items` (queue documents) are answered without being stored, and why.

    `batch_user_id`, the batch's own userId (its batch log keeps it), is looked up with the
    items' people, so that a suppressed person's id is never stored there either."""
    has_suppressions, has_tombstones = store.privacy_marks(app_id)
    if not (has_suppressions or has_tombstones):
        return CLEAR
    secret = erasure_secret(settings)
    held = {}
    batch_erased = False
    if has_tombstones:
        by_hash = {}
        for item_id in {item["itemId"] for item in items}:
            for kind in (EVENT, ITEM):
                by_hash[keyed_hash(secret, kind, app_id, item_id)] = item_id
        batch_hash = None if batch_id is None else keyed_hash(secret, BATCH, app_id, batch_id)
        wanted = list(by_hash) + ([batch_hash] if batch_hash else [])
        found = store.tombstoned_among(app_id, (EVENT, ITEM, BATCH), wanted)
        batch_erased = batch_hash is not None and batch_hash in found
        erased = {by_hash[digest] for digest in found if digest in by_hash}
        held.update((pos, "duplicate") for pos, item in enumerate(items)
                    if batch_erased or item["itemId"] in erased)
    suppressed_people = frozenset()
    if has_suppressions:
        people = [people_of(item) for item in items]
        distinct = set().union(*people)
        if isinstance(batch_user_id, str):
            distinct.add(batch_user_id)
        hashes = {person: keyed_hash(secret, PERSON, app_id, person) for person in distinct}
        found = store.suppressed_among(app_id, hashes.values()) if hashes else set()
        if found:
            suppressed_people = frozenset(p for p, digest in hashes.items() if digest in found)
            for pos, ids in enumerate(people):
                if pos not in held and ids & suppressed_people:
                    held[pos] = SUPPRESSED
    return Screening(batch_erased, held, suppressed_people)
