"""Fault injection for the sync engine: the app's own store, raising on chosen items at one step."""

from collections import Counter

import bson
from bson.codec_options import CodecOptions

from app.store.port.sync import ApplyNewEvents

# The steps a fault can hit, and the store method each one wraps.
STEPS = {
    "read": "_read_claimed",     # a claimed item's stored row converted back (the claim)
    "apply": "write_record",     # a record item's new version written
    "store": "insert_events",    # an event item's telemetry written (the bulk insert)
    "conflict": "add_conflict",  # an event conflict opened (after the bulk insert)
    "finish": "finish_items",    # an item's outcome written as done (the bulk update)
}


class Faults:
    """Makes `store` raise `error()` whenever `step` touches one of the chosen items (itemIds of
    app "testapp"), until `heal()` is called.

    On SQLite the whole-batch path (ApplyNewEvents) fails too when it stores a chosen event,
    as it would on the same data, so the batch goes item by item. Everything else is the real
    store: a bulk write holding a chosen item writes the others first, then raises, as
    MongoDB's unordered inserts do.
    """

    def __init__(self, monkeypatch, store, step, error, item_ids):
        self.error = error
        self.item_ids = set(item_ids)
        self.healed = False
        self.raised = Counter()
        self.calls = Counter()
        self.queue_ids = {}
        if step == "finish":
            # Outcomes name items by queue id.
            for item_id in item_ids:
                self.queue_ids[store.get_queue_item("testapp", item_id)["id"]] = item_id
        method = STEPS[step]
        original = getattr(store, method)
        monkeypatch.setattr(store, method, getattr(self, f"_{step}")(original))
        fast_path = store.capability(ApplyNewEvents)
        if step == "store" and fast_path is not None:
            monkeypatch.setattr(store, store.CAPABILITIES[ApplyNewEvents],
                                self._whole_batch(fast_path))

    def heal(self):
        """The chosen items go through from now on."""
        self.healed = True

    def _hit(self, item_id, app_id="testapp"):
        if self.healed or app_id != "testapp" or item_id not in self.item_ids:
            return False
        self.raised[item_id] += 1
        return True

    def _read(self, original):
        def read_claimed(*args):
            item = original(*args)
            if self._hit(item["itemId"], item["appId"]):
                raise self.error()
            return item
        return read_claimed

    def _apply(self, original):
        def write_record(doc, expected_version):
            if self._hit(doc.get("itemId"), doc["appId"]):
                raise self.error()
            return original(doc, expected_version)
        return write_record

    def _store(self, original):
        def insert_events(docs):
            self.calls["insert_events"] += 1
            hits = [d for d in docs if self._hit(d["eventId"], d["appId"])]
            if not hits:
                return original(docs)
            others = [d for d in docs if d not in hits]
            if others:
                original(others)
            raise self.error()
        return insert_events

    def _whole_batch(self, original):
        def apply_new_events(now, limit):
            applied = original(now, limit)
            if applied and any(self._hit(item_id, app_id) for app_id, item_id in applied):
                raise self.error()  # the unit takes the batch back
            return applied
        return apply_new_events

    def _conflict(self, original):
        def add_conflict(doc):
            if self._hit(doc["itemId"], doc["appId"]):
                raise self.error()
            return original(doc)
        return add_conflict

    def _finish(self, original):
        def finish_items(updates, now):
            self.calls["finish_items"] += 1
            if any(u["status"] == "done" and u["id"] in self.queue_ids
                   and self._hit(self.queue_ids[u["id"]]) for u in updates):
                original([u for u in updates if u["id"] not in self.queue_ids], now)
                raise self.error()
            return original(updates, now)
        return finish_items


class _DecodingCursor:
    def __init__(self, cursor):
        self._cursor = cursor

    def sort(self, *args, **kwargs):
        return _DecodingCursor(self._cursor.sort(*args, **kwargs))

    def limit(self, count):
        return _DecodingCursor(self._cursor.limit(count))

    def __iter__(self):
        for doc in self._cursor:
            yield _decode(doc)


def _decode(doc):
    return None if doc is None else bson.decode(bson.encode(doc), DRIVER_CODEC)


class _DecodingCollection:
    def __init__(self, collection):
        self._collection = collection

    def find(self, *args, **kwargs):
        return _DecodingCursor(self._collection.find(*args, **kwargs))

    def find_one(self, *args, **kwargs):
        return _decode(self._collection.find_one(*args, **kwargs))

    def __getattr__(self, name):
        return getattr(self._collection, name)


class _DecodingDatabase:
    def __init__(self, db, names):
        self._db = db
        self._names = names

    def __getitem__(self, name):
        collection = self._db[name]
        return _DecodingCollection(collection) if name in self._names else collection

    def __getattr__(self, name):
        return self[name] if name in self._names else getattr(self._db, name)


DRIVER_CODEC = CodecOptions(tz_aware=True)


def decode_like_the_driver(monkeypatch, store, names=("sync_queue", "telemetry")):
    """On mongomock, read the named collections' documents back through BSON as the real driver
    does: mongomock hands back whatever was stored, even a date the driver cannot decode (before
    year 1), where PyMongo raises InvalidBSON. A real MongoDB needs nothing of the kind."""
    if type(getattr(store, "db", None)).__module__.startswith("mongomock"):
        monkeypatch.setattr(store, "db", _DecodingDatabase(store.db, names))
