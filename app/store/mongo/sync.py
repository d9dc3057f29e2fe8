"""MongoDB adapter: what the sync engine needs — claims, telemetry, record versions, conflicts.

MongoDB gives no transaction here, so a claim is real: items are set `processing` with a lease
and a claim token; outcomes are written only where the token still matches. A worker that dies
mid-batch leaves its items to be claimed again after the lease. Every write is idempotent
against that replay: telemetry by its unique (appId, eventId), record versions by the itemId
kept with each version, seqs by keeping the highest.
"""

import uuid

from bson.errors import BSONError
from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.errors import BulkWriteError, PyMongoError

from ..common import unreadable_item
from ..errors import DataRejected, StoreUnavailable
from .core import object_id, to_doc
from .ingest import DUPLICATE_KEY

# A conflict without its three values, for lists.
CONFLICT_LIST_PROJECTION = {"base": 0, "server": 0, "client": 0}

SYNC_INDEXES = {
    "sync_queue": [([("status", ASCENDING), ("leaseUntil", ASCENDING)], {})],
    "records": [([("appId", ASCENDING), ("changeSeq", ASCENDING)], {})],
    "record_versions": [([("appId", ASCENDING), ("itemId", ASCENDING)], {})],
    "conflicts": [([("appId", ASCENDING), ("status", ASCENDING), ("_id", DESCENDING)], {})],
    "sync_counters": [([("appId", ASCENDING), ("name", ASCENDING)], {"unique": True})],
}
# What settling a claimed item that cannot be read back needs of it.
CLAIM_HEAD = {"appId": 1, "itemId": 1, "attempts": 1}
RECORD_FIELDS = ("appId", "recordType", "recordId", "userId", "version", "data", "updatedAt",
                 "updatedBy")


def _claimable(now):
    return {"$or": [
        {"status": {"$in": ["pending", "failed"]}, "nextAttemptAt": {"$lte": now}},
        {"status": "processing", "leaseUntil": {"$lt": now}},
    ]}


def _no_id(doc):
    return {k: v for k, v in doc.items() if k not in ("_id", "id")}


class MongoSync:
    """Claims, event and record writes, conflicts, client sequences and the pull side."""

    INDEXES = (SYNC_INDEXES,)

    # Claims and item outcomes.

    def claim_items(self, now, lease_until, limit):
        """Claim up to `limit` due items (priority high to low, then arrival) under a lease.

        A document that cannot be read back comes as an unreadable item (store/common.py) for
        the engine to settle: it never stops the claim of the others.
        """
        token = uuid.uuid4().hex
        with self._errors():
            ids = [d["_id"] for d in self.db.sync_queue.find(_claimable(now), {"_id": 1})
                   .sort([("priority", DESCENDING), ("_id", ASCENDING)]).limit(limit)]
            if not ids:
                return []
            self.db.sync_queue.update_many(
                {"$and": [{"_id": {"$in": ids}}, _claimable(now)]},
                {"$set": {"status": "processing", "leaseUntil": lease_until,
                          "leaseOwner": token, "updatedAt": now}, "$inc": {"attempts": 1}})
            claimed = self._claimed_docs({"_id": {"$in": ids}, "leaseOwner": token})
        items = []
        for key in ids:  # the claim's order
            if key not in claimed:
                continue  # taken by another worker in between
            raw, error = claimed[key]
            try:
                if error is not None:
                    raise error
                items.append(self._read_claimed(raw))
            except Exception as exc:
                items.append(unreadable_item(str(key), raw.get("appId"), raw.get("itemId"),
                                             raw.get("attempts"), exc, leaseOwner=token))
        return items

    def _claimed_docs(self, query):
        """The claimed documents by _id, each as (document, None). A document the driver cannot
        decode (a stored date out of Python's range) fails the whole read, so then they are
        read one by one, and such a one comes as (its CLAIM_HEAD, the decoding error)."""
        try:
            return {raw["_id"]: (raw, None) for raw in self.db.sync_queue.find(query)}
        except PyMongoError:
            raise
        except Exception:
            claimed = {}
            for head in self.db.sync_queue.find(query, CLAIM_HEAD):
                try:
                    claimed[head["_id"]] = (self.db.sync_queue.find_one({"_id": head["_id"]}),
                                            None)
                except PyMongoError:
                    raise
                except Exception as exc:
                    claimed[head["_id"]] = (head, exc)
            return claimed

    def _read_claimed(self, raw):
        """A claimed document as an item; raises when a stored value cannot be read back."""
        item = to_doc(raw)
        item["eventId"] = item["itemData"].get("eventId") if item["itemType"] == "event" else None
        return item

    def finish_items(self, updates, now):
        """Write claimed items' outcomes where this worker's claim still holds.

        Done items (nearly all) take one update per claim; the others one each.
        """
        done = {}
        with self._errors():
            for u in updates:
                match = {"_id": object_id(u["id"])}
                if u.get("leaseOwner"):
                    match["leaseOwner"] = u["leaseOwner"]
                if u["status"] == "done":
                    done.setdefault(u.get("leaseOwner"), []).append(match["_id"])
                    continue
                self.db.sync_queue.update_one(match, {"$set": {
                    "status": u["status"], "attempts": u["attempts"],
                    "nextAttemptAt": u.get("nextAttemptAt"), "lastError": u.get("lastError"),
                    "leaseUntil": None, "leaseOwner": None, "updatedAt": now}})
            for owner, ids in done.items():
                match = {"_id": {"$in": ids}}
                if owner:
                    match["leaseOwner"] = owner
                self.db.sync_queue.update_many(match, {"$set": {
                    "status": "done", "nextAttemptAt": None, "lastError": None,
                    "leaseUntil": None, "leaseOwner": None, "updatedAt": now}})

    def set_item_status(self, app_id, item_id, status, now, last_error=None):
        """Set one queue item's status (a resolved conflict's item becomes done)."""
        with self._errors():
            self.db.sync_queue.update_one(
                {"appId": app_id, "itemId": item_id},
                {"$set": {"status": status, "lastError": last_error, "leaseUntil": None,
                          "updatedAt": now}})

    def add_sync_log(self, doc):
        """Store a sync run's batch log."""
        with self._errors():
            self.db.batch_logs.insert_one(dict(doc))

    def sync_logs(self, limit=100):
        """Sync runs' batch logs (source scheduled or manual), newest first."""
        with self._errors():
            cursor = self.db.batch_logs.find({"source": {"$in": ["scheduled", "manual"]}}).sort(
                "startTime", DESCENDING).limit(limit)
            return [to_doc(d) for d in cursor]

    # Telemetry.

    def event_hashes(self, app_id, event_ids):
        """payloadHash of the stored events among `event_ids`, by eventId."""
        with self._errors():
            cursor = self.db.telemetry.find(
                {"appId": app_id, "eventId": {"$in": list(event_ids)}},
                {"eventId": 1, "payloadHash": 1, "_id": 0})
            return {d["eventId"]: d.get("payloadHash") for d in cursor}

    def insert_events(self, docs):
        """Store telemetry documents (sync/documents.py builds them); an (appId, eventId)
        already there is kept. Raises DataRejected when one cannot be stored (the others may
        be stored already: storing them again keeps them)."""
        docs = [dict(doc) for doc in docs]  # insert_many adds each one's _id
        with self._errors():
            try:
                self.db.telemetry.insert_many(docs, ordered=False)
                self._count_hours(docs)
            except BulkWriteError as exc:
                # The explorer's hourly counts take the events this insert stored, only.
                failed = {e.get("index") for e in exc.details.get("writeErrors", [])}
                self._count_hours(doc for i, doc in enumerate(docs) if i not in failed)
                refused = [e for e in exc.details.get("writeErrors", [])
                           if e.get("code") != DUPLICATE_KEY]
                if refused:
                    raise DataRejected(f"telemetry refused an event: {refused[0].get('errmsg')}"
                                       ) from exc
            except (BSONError, OverflowError) as exc:
                # The driver cannot encode a document (a time out of BSON's range, a key it
                # cannot hold).
                raise DataRejected(f"telemetry cannot hold an event: {exc}") from exc

    def get_event(self, app_id, event_id):
        """The stored telemetry event, or None."""
        with self._errors():
            return to_doc(self.db.telemetry.find_one({"appId": app_id, "eventId": event_id}))

    def replace_event(self, app_id, event_id, changes):
        """Overwrite fields of a stored event (a resolved payload conflict)."""
        with self._errors():
            before = self.db.telemetry.find_one_and_update(
                {"appId": app_id, "eventId": event_id}, {"$set": dict(changes)},
                {"appId": 1, "eventType": 1, "timestamp": 1})
            if before is not None and {"eventType", "timestamp"} & set(changes):
                # The explorer's hourly counts move with the event.
                self._count_hours([before], -1)
                self._count_hours([{**before, **changes}])

    def event_counts(self, app_id, start=None, end=None):
        """Event counts by type and by (UTC) day, with `start` <= timestamp < `end`."""
        match = {"appId": app_id}
        if start is not None or end is not None:
            match["timestamp"] = {}
            if start is not None:
                match["timestamp"]["$gte"] = start
            if end is not None:
                match["timestamp"]["$lt"] = end
        with self._errors():
            rows = self.db.telemetry.aggregate([
                {"$match": match},
                # The day as numbers, written out below: `$dateToString`'s %Y is not padded
                # to four digits everywhere (year 1 must read 0001).
                {"$group": {"_id": {"y": {"$year": "$timestamp"}, "m": {"$month": "$timestamp"},
                                    "d": {"$dayOfMonth": "$timestamp"},
                                    "eventType": "$eventType"},
                            "count": {"$sum": 1}}}])
            by_day = sorted(({"day": "{y:04d}-{m:02d}-{d:02d}".format(**r["_id"]),
                              "eventType": r["_id"]["eventType"],
                              "count": r["count"]} for r in rows),
                            key=lambda r: (r["day"], r["eventType"]))
        # The (day, type) groups are few: the per-type totals add them up here.
        by_type = {}
        for row in by_day:
            by_type[row["eventType"]] = by_type.get(row["eventType"], 0) + row["count"]
        types = sorted(by_type.items(), key=lambda kv: (-kv[1], kv[0]))
        return [{"eventType": t, "count": n} for t, n in types], by_day

    # Records and their versions.

    def get_record(self, app_id, record_type, record_id):
        """The current record, or None."""
        with self._errors():
            doc = self.db.records.find_one(
                {"appId": app_id, "recordType": record_type, "recordId": record_id})
        return self._record(doc)

    def _record(self, doc):
        doc = to_doc(doc)
        if doc is not None:
            doc.pop("id", None)
        return doc

    def get_record_version(self, app_id, record_type, record_id, version):
        """One version of a record from its history, or None."""
        with self._errors():
            return self._record(self.db.record_versions.find_one(
                {"appId": app_id, "recordType": record_type, "recordId": record_id,
                 "version": version}))

    def version_written_by(self, app_id, item_id):
        """The record version a queue item wrote, or None (re-applying an item is a no-op)."""
        with self._errors():
            return self._record(self.db.record_versions.find_one(
                {"appId": app_id, "itemId": item_id}))

    def _next_change_seq(self, app_id):
        doc = self.db.sync_counters.find_one_and_update(
            {"appId": app_id, "name": "changeSeq"}, {"$inc": {"value": 1}},
            upsert=True, return_document=ReturnDocument.AFTER)
        return doc["value"]

    def write_record(self, doc, expected_version):
        """Store `doc` as the record's next version when it is still at `expected_version`."""
        key = {"appId": doc["appId"], "recordType": doc["recordType"],
               "recordId": doc["recordId"]}
        with self._errors():
            change_seq = self._next_change_seq(doc["appId"])
            record = {k: doc.get(k) for k in RECORD_FIELDS}
            record["changeSeq"] = change_seq
            # The history first: a version is never lost, even if the record write fails.
            self.db.record_versions.update_one(
                dict(key, version=doc["version"]),
                {"$setOnInsert": {"data": doc["data"], "updatedAt": doc["updatedAt"],
                                  "updatedBy": doc.get("updatedBy"), "itemId": doc.get("itemId"),
                                  "userId": doc.get("userId")}}, upsert=True)
            if expected_version == 0:
                self.db.records.insert_one(record)
            else:
                result = self.db.records.update_one(dict(key, version=expected_version),
                                                    {"$set": record})
                if result.matched_count != 1:
                    raise StoreUnavailable(f"record {key} changed while it was written")
        return record

    def records_changed(self, app_id, record_type=None, since=0, limit=100):
        """Records changed after checkpoint `since`, oldest change first."""
        query = {"appId": app_id, "changeSeq": {"$gt": since}}
        if record_type is not None:
            query["recordType"] = record_type
        with self._errors():
            cursor = self.db.records.find(query).sort("changeSeq", ASCENDING).limit(limit)
            return [self._record(d) for d in cursor]

    # Conflicts.

    def add_conflict(self, doc):
        """Store a conflict; returns it with its id."""
        with self._errors():
            result = self.db.conflicts.insert_one(_no_id(doc))
        return dict(doc, id=str(result.inserted_id))

    def get_conflict(self, app_id, conflict_id):
        """A conflict by id, or None; app_id None finds any app's."""
        oid = object_id(conflict_id)
        if oid is None:
            return None
        query = {"_id": oid} if app_id is None else {"_id": oid, "appId": app_id}
        with self._errors():
            return to_doc(self.db.conflicts.find_one(query))

    def list_conflicts(self, app_id=None, status=None, limit=50, before_id=None, values=True):
        """Conflicts newest first, keyset-paginated by id (`before_id` from the previous page);
        app_id None lists every app's; `values` False leaves out base, server and client."""
        query = {}
        if app_id is not None:
            query["appId"] = app_id
        if status is not None:
            query["status"] = status
        if before_id is not None:
            oid = object_id(before_id)
            if oid is None:
                return []
            query["_id"] = {"$lt": oid}
        with self._errors():
            projection = None if values else CONFLICT_LIST_PROJECTION
            cursor = self.db.conflicts.find(query, projection).sort("_id", DESCENDING).limit(limit)
            return [to_doc(d) for d in cursor]

    def close_conflict(self, conflict_id, resolution, resolved_by, at):
        """Mark an open conflict resolved; False when it was not open (someone was first)."""
        with self._errors():
            result = self.db.conflicts.update_one(
                {"_id": object_id(conflict_id), "status": "open"},
                {"$set": {"status": "resolved", "resolution": resolution,
                          "resolvedBy": resolved_by, "resolvedAt": at}})
        return result.modified_count == 1

    # Per-client sequence numbers.

    def client_seqs(self, app_id, client_ids):
        """The last applied seq of each of an app's clients that has one."""
        with self._errors():
            cursor = self.db.client_seqs.find(
                {"appId": app_id, "clientId": {"$in": list(client_ids)}})
            return {d["clientId"]: d["lastSeq"] for d in cursor}

    def save_client_seqs(self, app_id, seqs):
        """Raise the stored last seq of each client to the given one (never lower it)."""
        if not seqs:
            return
        with self._errors():
            for client_id, seq in seqs.items():
                self.db.client_seqs.update_one({"appId": app_id, "clientId": client_id},
                                               {"$max": {"lastSeq": seq}}, upsert=True)

