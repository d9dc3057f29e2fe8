"""The MongoDB store's upgrade steps, one function per version of app/store/schema.py's STEPS.

Each takes the store and is idempotent (MongoDB gives no transaction here): a step cut short is
completed by taking it again. A step that has shipped is never edited: a change is a new step.
"""

from pymongo.errors import OperationFailure

# Indexes of earlier releases that later ones replaced: each is a prefix of a current index, so
# it only costs writes.
REPLACED_INDEXES = {
    "sync_queue": ("appId_1_userId_1_status_1", "appId_1_batchId_1"),
    "batch_logs": ("startTime_-1", "source_1_startTime_-1", "status_1_startTime_-1"),
}


def baseline_indexes(store_class):
    """(collection, keys, options) of every index in the `INDEXES` of the adapter's classes,
    base class first: what the releases before versioned stores made on start-up."""
    return [(collection, keys, options)
            for cls in reversed(store_class.__mro__)
            for indexes in cls.__dict__.get("INDEXES", ())
            for collection, specs in indexes.items() for keys, options in specs]


def baseline(store):
    """1: the indexes of the releases before versioned stores, made as they made them on
    start-up (create_index is idempotent)."""
    for collection, keys, options in baseline_indexes(type(store)):
        store.db[collection].create_index(keys, **options)


def drop_replaced_indexes(store):
    """2: drop the indexes later ones replaced (those releases left them for an operator)."""
    for collection, names in REPLACED_INDEXES.items():
        present = store.db[collection].index_information()
        for name in names:
            if name in present:
                try:
                    store.db[collection].drop_index(name)
                except OperationFailure as exc:
                    if exc.code != 27:  # IndexNotFound: another process dropped it first
                        raise


def people(store):
    """3: the indexes of people profiles, the identity map and groups, and telemetry's
    (appId, anonymousId) (create_index is idempotent; the collections are made on first
    write)."""
    from .people import PEOPLE_INDEXES

    for collection, specs in PEOPLE_INDEXES.items():
        for keys, options in specs:
            store.db[collection].create_index(keys, **options)


# Step 4's index.
SOURCES_INDEXES = {"batch_logs": [([("rejectedCount", 1), ("source", 1)], {})]}


def sources(store):
    """4: batch logs with refused items, by source (prepmate_items_rejected); queue items name
    their protocol in a field of their own, which needs nothing here."""
    for collection, specs in SOURCES_INDEXES.items():
        for keys, options in specs:
            store.db[collection].create_index(keys, **options)


def _backfill(store, collection, fallback):
    """Give the rows of `collection` without a userId their queue item's (by appId, itemId),
    else what `fallback(row)` finds; rows left without one are left as they are."""
    from .person import BACKFILL_CHUNK

    rows = store.db[collection].find({"userId": None},
                                     {"appId": 1, "itemId": 1, "recordType": 1, "recordId": 1})
    chunk = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == BACKFILL_CHUNK:
            _fill(store, collection, chunk, fallback)
            chunk = []
    if chunk:
        _fill(store, collection, chunk, fallback)


def _fill(store, collection, rows, fallback):
    writers = {}
    for app_id in {row["appId"] for row in rows}:
        item_ids = [row.get("itemId") for row in rows if row["appId"] == app_id]
        for item in store.db.sync_queue.find({"appId": app_id, "itemId": {"$in": item_ids}},
                                             {"itemId": 1, "userId": 1}):
            writers[(app_id, item["itemId"])] = item.get("userId")
    for row in rows:
        user_id = writers.get((row["appId"], row.get("itemId")))
        if user_id is None:
            user_id = fallback(row)
        if user_id is not None:
            store.db[collection].update_one({"_id": row["_id"]}, {"$set": {"userId": user_id}})


def privacy(store):
    """5: conflicts' and record versions' userId (the writing queue item's; for a version
    without one, the record's) filled in where missing; the indexes of a person's rows;
    suppressions, tombstones and deletions (collections made with their indexes)."""
    from .person import PRIVACY_INDEXES

    def record_owner(row):
        record = store.db.records.find_one({"appId": row["appId"],
                                            "recordType": row.get("recordType"),
                                            "recordId": row.get("recordId")}, {"userId": 1})
        return (record or {}).get("userId")

    _backfill(store, "conflicts", lambda row: None)
    _backfill(store, "record_versions", record_owner)
    for collection, specs in PRIVACY_INDEXES.items():
        for keys, options in specs:
            store.db[collection].create_index(keys, **options)



def explorer(store):
    """6: the explorer's indexes (events newest first by app, type, userId and anonymousId,
    with _id as tie-break) and event_hours, the events counted per (app, hour, type), filled
    from the events stored (each count set, so taking the step again changes nothing)."""
    from .events import EXPLORER_INDEXES

    for collection, specs in EXPLORER_INDEXES.items():
        for keys, options in specs:
            store.db[collection].create_index(keys, **options)
    store._fill_hours()


def packed_results(store):
    """7: nothing to do on MongoDB: a batch log's results are BSON, which the step's change
    (compressed results in SQLite's text columns) does not concern."""


STEPS = {1: baseline, 2: drop_replaced_indexes, 3: people, 4: sources, 5: privacy, 6: explorer,
         7: packed_results}
