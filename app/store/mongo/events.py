"""MongoDB adapter: the explorer's and the export's reads of telemetry (port/events.py).

Pages walk the (appId, …, timestamp, _id) indexes newest first; across apps the filter names
every app (`$in`), which the server answers by merging one sorted walk per app. Counts per
hour are kept in event_hours (appId, hour, day, eventType, n): insert_events (sync.py) raises
them for the events it stored, and whatever deletes events lowers them with
`_count_hours(docs, -1)` (erasure does; retention's TTL drops old hours with the events).
"""

from datetime import UTC, datetime, timedelta

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, UpdateOne

from ..port.events import EVENT_FIELDS, chunks_of_pages, event_filter
from .core import object_id, to_doc

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MS = timedelta(milliseconds=1)
NEWEST_FIRST = [("timestamp", DESCENDING), ("_id", DESCENDING)]
PROJECTION = {name: 1 for name in EVENT_FIELDS}
# Upgrade step 6 (upgrades.py).
EXPLORER_INDEXES = {
    "telemetry": [
        ([("appId", ASCENDING), ("timestamp", DESCENDING), ("_id", DESCENDING)], {}),
        ([("appId", ASCENDING), ("eventType", ASCENDING), ("timestamp", DESCENDING),
          ("_id", DESCENDING)], {}),
        ([("appId", ASCENDING), ("userId", ASCENDING), ("timestamp", DESCENDING),
          ("_id", DESCENDING)], {}),
        ([("appId", ASCENDING), ("anonymousId", ASCENDING), ("timestamp", DESCENDING),
          ("_id", DESCENDING)], {}),
    ],
    "event_hours": [
        ([("appId", ASCENDING), ("hour", ASCENDING), ("eventType", ASCENDING)],
         {"unique": True}),
    ],
}


def _utc(value):
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _hour(value):
    return _utc(value).replace(minute=0, second=0, microsecond=0)


def _upsert_all(collection, updates):
    """Upsert each (filter, update) of `updates` in one bulk write."""
    try:
        collection.bulk_write([UpdateOne(f, u, upsert=True) for f, u in updates], ordered=False)
    except TypeError:
        # mongomock cannot take this pymongo's UpdateOne (it passes a `sort` that mongomock's
        # bulk builder lacks): the same updates, one by one.
        for f, u in updates:
            collection.update_one(f, u, upsert=True)


def _parse_key(key):
    """(time, ObjectId) of a key event_page made; ValueError for anything else."""
    if not isinstance(key, str) or "/" not in key:
        raise ValueError("not an event key")
    ms_text, _, oid_text = key.partition("/")
    oid = object_id(oid_text)
    if oid is None or not ms_text.lstrip("-").isdigit():
        raise ValueError("not an event key")
    try:
        return EPOCH + int(ms_text) * MS, ObjectId(oid_text)
    except OverflowError as exc:
        raise ValueError("not an event key") from exc


class MongoEvents:
    """The events read port (port/events.py's EventsPort) on MongoDB."""

    def _event_apps(self, filters):
        if "appId" in filters:
            return [filters["appId"]]
        return sorted(self.db.telemetry.distinct("appId"))

    def _event_query(self, filters, before=None):
        """The query document of the matching events past `before` ((time, ObjectId))."""
        clauses = [{"appId": {"$in": self._event_apps(filters)}}]
        if filters.get("eventId") is not None:
            clauses.append({"eventId": filters["eventId"]})
        if filters.get("userIds") is not None:
            ids = list(filters["userIds"])
            clauses.append({"$or": [{"userId": {"$in": ids}}, {"anonymousId": {"$in": ids}}]})
        if filters.get("eventTypes") is not None:
            clauses.append({"eventType": {"$in": list(filters["eventTypes"])}})
        span = {"$type": "date"}
        if filters.get("since") is not None:
            span["$gte"] = filters["since"]
        if filters.get("until") is not None:
            span["$lt"] = filters["until"]
        clauses.append({"timestamp": span})
        if before is not None:
            at, oid = before
            # The bound on timestamp alone lets the index walk start at the key.
            clauses.append({"timestamp": {"$lte": at}})
            clauses.append({"$or": [{"timestamp": {"$lt": at}}, {"_id": {"$lt": oid}}]})
        return {"$and": clauses}

    @staticmethod
    def _event_doc(raw):
        doc = {name: raw.get(name) for name in EVENT_FIELDS}
        ms = (_utc(raw["timestamp"]) - EPOCH) // MS
        doc["key"] = f"{ms}/{raw['_id']}"
        return doc

    def event_page(self, filters, before=None, limit=50):
        """At most `limit` events matching `filters`, newest first, after the key `before`."""
        filters = event_filter(filters)
        position = None if before is None else _parse_key(before)
        with self._errors():
            cursor = self.db.telemetry.find(self._event_query(filters, position), PROJECTION).sort(
                NEWEST_FIRST).limit(limit)
            return [self._event_doc(raw) for raw in cursor]

    def event_chunks(self, filters, chunk=1000):
        """Every event matching `filters`, newest first, `chunk` at a time."""
        return chunks_of_pages(self.event_page, filters, chunk)

    def event_histogram(self, filters, bucket):
        """(bucket start, eventType, count) of the matching events per hour or day."""
        filters = event_filter(filters)
        if bucket not in ("hour", "day"):
            raise ValueError(f"no bucket {bucket!r}")
        counts = {}
        with self._errors():
            if filters.get("userIds") is not None or filters.get("eventId") is not None:
                self._tally_events(filters, bucket, counts)
            else:
                self._count_from_hours(filters, bucket, counts)
        return [(start, event_type, n)
                for (start, event_type), n in sorted(counts.items()) if n > 0]

    def _tally_events(self, filters, bucket, counts):
        """Add the matching events to `counts` by bucket and type, counted from the events."""
        group = {"y": {"$year": "$timestamp"}, "m": {"$month": "$timestamp"},
                 "d": {"$dayOfMonth": "$timestamp"}, "t": "$eventType"}
        if bucket == "hour":
            group["h"] = {"$hour": "$timestamp"}
        rows = self.db.telemetry.aggregate([{"$match": self._event_query(filters)},
                                            {"$group": {"_id": group, "n": {"$sum": 1}}}])
        for row in rows:
            key = row["_id"]
            start = datetime(key["y"], key["m"], key["d"], key.get("h", 0), tzinfo=UTC)
            counts[start, key["t"]] = counts.get((start, key["t"]), 0) + row["n"]

    def _count_from_hours(self, filters, bucket, counts):
        """Whole hours from event_hours; the partial hours at the range's ends from the
        events."""
        since, until = filters.get("since"), filters.get("until")
        first = None if since is None else _hour(since)
        if first is not None and first < _utc(since):
            first += timedelta(hours=1)
        last = None if until is None else _hour(until)
        if first is not None and last is not None and first > last:
            self._tally_events(filters, bucket, counts)
            return
        if first is not None and _utc(since) < first:
            self._tally_events({**filters, "until": first}, bucket, counts)
        if last is not None and last < _utc(until):
            self._tally_events({**filters, "since": last}, bucket, counts)
        match = {"appId": {"$in": self._event_apps(filters)}}
        if first is not None or last is not None:
            match["hour"] = {}
            if first is not None:
                match["hour"]["$gte"] = first
            if last is not None:
                match["hour"]["$lt"] = last
        if filters.get("eventTypes") is not None:
            match["eventType"] = {"$in": list(filters["eventTypes"])}
        rows = self.db.event_hours.aggregate([
            {"$match": match},
            {"$group": {"_id": {"b": f"${bucket}", "t": "$eventType"}, "n": {"$sum": "$n"}}}])
        for row in rows:
            key = (_utc(row["_id"]["b"]), row["_id"]["t"])
            counts[key] = counts.get(key, 0) + row["n"]

    def _count_hours(self, docs, sign=1):
        """Raise (or with sign -1 lower) event_hours by the events `docs` (appId, eventType,
        timestamp): what stores or deletes events calls it."""
        added = {}
        for doc in docs:
            # None, or a time before year 1 that only an older release could write (read back
            # as a DatetimeMS): no hour holds it, before or after.
            if not isinstance(doc.get("timestamp"), datetime):
                continue
            key = (doc["appId"], _hour(doc["timestamp"]), doc["eventType"])
            added[key] = added.get(key, 0) + sign
        if not added:
            return
        _upsert_all(self.db.event_hours, [
            ({"appId": app_id, "hour": hour, "eventType": event_type},
             {"$inc": {"n": n}, "$setOnInsert": {"day": hour.replace(hour=0)}})
            for (app_id, hour, event_type), n in added.items()])

    def _fill_hours(self):
        """event_hours from the events stored (upgrade step 6): each hour's count set, not
        added, so taking the step again gives the same counts."""
        rows = self.db.telemetry.aggregate([
            {"$match": {"timestamp": {"$type": "date"}}},
            {"$group": {"_id": {"a": "$appId", "t": "$eventType", "y": {"$year": "$timestamp"},
                                "m": {"$month": "$timestamp"},
                                "d": {"$dayOfMonth": "$timestamp"},
                                "h": {"$hour": "$timestamp"}},
                        "n": {"$sum": 1}}}])
        updates = []
        for row in rows:
            key = row["_id"]
            hour = datetime(key["y"], key["m"], key["d"], key["h"], tzinfo=UTC)
            updates.append(({"appId": key["a"], "hour": hour, "eventType": key["t"]},
                            {"$set": {"n": row["n"], "day": hour.replace(hour=0)}}))
            if len(updates) >= 1000:
                _upsert_all(self.db.event_hours, updates)
                updates = []
        if updates:
            _upsert_all(self.db.event_hours, updates)

    def event_detail(self, app_id, event_id):
        """One event with its queue item and batch log, or None."""
        with self._errors():
            raw = self.db.telemetry.find_one({"appId": app_id, "eventId": event_id})
            if raw is None or raw.get("timestamp") is None:
                return None
            event = self._event_doc(raw)
            item = to_doc(self.db.sync_queue.find_one({"appId": app_id, "itemId": event_id}))
            batch = None
            if item is not None and item.get("batchId") is not None:
                batch = to_doc(self.db.batch_logs.find_one({"appId": app_id,
                                                            "batchId": item["batchId"]}))
        event["queueItem"], event["batchLog"] = item, batch
        return event
