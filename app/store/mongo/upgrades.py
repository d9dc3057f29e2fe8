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


def sources(store):
    """4: batch logs with refused items, by source (prepmate_items_rejected); queue items name
    their protocol in a field of their own, which needs nothing here."""
    store.db.batch_logs.create_index([("rejectedCount", 1), ("source", 1)])


STEPS = {1: baseline, 2: drop_replaced_indexes, 3: people, 4: sources}
