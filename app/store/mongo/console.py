"""MongoDB adapter: the console's operations (counts, keyset pages, look-ups, actions)."""

from datetime import UTC, datetime

from pymongo import ASCENDING, DESCENDING

from ..port.console import match_fields
from .core import object_id, to_doc
from .ingest import QUEUE_LIST_PROJECTION

BATCH_LIST_PROJECTION = {"results": 0}


def _match(match):
    """The query for the fields of a queue look-up."""
    return {name: match[name] for name in match_fields(match)}


def _with_error_count(doc):
    doc = to_doc(doc)
    doc["errorCount"] = len(doc.pop("errors", None) or [])
    return doc


class MongoConsole:
    """The console's operations (port/console.py's ConsoleStore)."""

    INDEXES = ({
        # Per-state counts and pages; look-ups by id use the per-app indexes with every appId.
        # (batch_logs' status_1_startTime_-1 of earlier releases is a prefix of a core index:
        # upgrade step 2 drops it.)
        "sync_queue": [([("status", ASCENDING), ("_id", DESCENDING)], {})],
    },)

    def queue_app_ids(self):
        """The apps that have queue items."""
        with self._errors():
            return sorted(self.db.sync_queue.distinct("appId"))

    def console_queue_counts(self):
        """Queue items by state, every state present (zeros too)."""
        return self.state_counts()

    def queue_page(self, match, status=None, app_ids=None, before_id=None, limit=50):
        """Queue items (no payloads) with the fields of `match`, in `status` and `app_ids` when
        given, ids below `before_id`, newest first."""
        query = _match(match)
        if status is not None:
            query["status"] = status
        if app_ids is not None:
            apps = {"appId": {"$in": list(app_ids)}}
            if "appId" in query:
                query["$and"] = [apps]
            else:
                query.update(apps)
        if before_id is not None:
            oid = object_id(before_id)
            if oid is None:
                return []
            query["_id"] = {"$lt": oid}
        with self._errors():
            cursor = self.db.sync_queue.find(query, QUEUE_LIST_PROJECTION).sort(
                "_id", DESCENDING).limit(limit)
            return [to_doc(d) for d in cursor]

    def count_queue(self, match, statuses=None):
        """How many queue items have the fields of `match` and one of `statuses`."""
        query = _match(match)
        if statuses:
            query["status"] = {"$in": list(statuses)}
        with self._errors():
            return self.db.sync_queue.count_documents(query)

    def queue_item(self, key):
        """One queue item with its payload by its store id, or None."""
        oid = object_id(key)
        if oid is None:
            return None
        with self._errors():
            return to_doc(self.db.sync_queue.find_one({"_id": oid}))

    def _chosen(self, statuses, ids, match):
        """The query for the items in `statuses` with these ids, or else matching."""
        query = {"status": {"$in": list(statuses)}}
        if ids is not None:
            query["_id"] = {"$in": [oid for oid in map(object_id, ids) if oid is not None]}
        else:
            query.update(_match(match or {}))
        return query

    def retry_queue_items(self, now, statuses, ids=None, match=None):
        """Put the chosen items back to pending, due now, with fresh attempts; how many."""
        with self._errors():
            return self.db.sync_queue.update_many(self._chosen(statuses, ids, match), {"$set": {
                "status": "pending", "attempts": 0, "nextAttemptAt": now, "leaseUntil": None,
                "updatedAt": now}}).modified_count

    def discard_queue_items(self, statuses, ids=None, match=None):
        """Delete the chosen items from the queue; how many."""
        with self._errors():
            return self.db.sync_queue.delete_many(
                self._chosen(statuses, ids, match)).deleted_count

    def batch_page(self, since, source=None, statuses=None, before=None, limit=50):
        """Batch logs (no per-item results) started since `since`, newest first."""
        query = {"startTime": {"$gte": since}}
        if source:
            query["source"] = source
        if statuses:
            query["status"] = {"$in": list(statuses)}
        if before is not None:
            at, key = before
            oid = object_id(key)
            if oid is None:
                return []
            query["$or"] = [{"startTime": {"$lt": at}}, {"startTime": at, "_id": {"$lt": oid}}]
        with self._errors():
            cursor = self.db.batch_logs.find(query, BATCH_LIST_PROJECTION).sort(
                [("startTime", DESCENDING), ("_id", DESCENDING)]).limit(limit)
            return [_with_error_count(d) for d in cursor]

    def batch_log(self, key):
        """One batch log with its per-item results by its store id, or None."""
        oid = object_id(key)
        if oid is None:
            return None
        with self._errors():
            return to_doc(self.db.batch_logs.find_one({"_id": oid}))

    def sync_minutes(self, since):
        """Per minute since `since`: items processed and failed by sync runs."""
        minute = "%Y-%m-%dT%H:%M"
        with self._errors():
            rows = self.db.batch_logs.aggregate([
                {"$match": {"source": {"$in": ["scheduled", "manual"]},
                            "startTime": {"$gte": since}}},
                {"$group": {"_id": {"$dateToString": {"format": minute,
                                                      "date": "$startTime"}},
                            "processed": {"$sum": "$itemCount"},
                            "failed": {"$sum": "$failureCount"}}}])
            minutes = [(int(datetime.strptime(r["_id"], minute).replace(
                tzinfo=UTC).timestamp()), r["processed"], r["failed"]) for r in rows]
        return sorted(minutes)

    def sync_run_totals(self):
        """Sync runs: how many, and their summed duration in seconds."""
        with self._errors():
            rows = list(self.db.batch_logs.aggregate([
                {"$match": {"source": {"$in": ["scheduled", "manual"]}}},
                # A date less a date is milliseconds; a run without an end adds nothing.
                {"$group": {"_id": None, "runs": {"$sum": 1},
                            "ms": {"$sum": {"$subtract": ["$endTime", "$startTime"]}}}}]))
        if not rows:
            return {"runs": 0, "seconds": 0.0}
        return {"runs": rows[0]["runs"], "seconds": (rows[0]["ms"] or 0) / 1000}

    def event_type_counts(self):
        """Applied events by app and type, most frequent first."""
        with self._errors():
            # Sorting on the (appId, eventType, timestamp) index's keys first makes the server
            # read that index, not the documents.
            rows = self.db.telemetry.aggregate([
                {"$sort": {"appId": ASCENDING, "eventType": ASCENDING}},
                {"$group": {"_id": {"appId": "$appId", "eventType": "$eventType"},
                            "count": {"$sum": 1}}}])
            rows = [{"appId": r["_id"]["appId"], "eventType": r["_id"]["eventType"],
                     "count": r["count"]} for r in rows]
        return sorted(rows, key=lambda r: (-r["count"], r["appId"], r["eventType"]))

    def conflict_counts(self):
        """Conflicts by status."""
        with self._errors():
            # Sorted on the (status, _id) index's first key: the server reads the index only.
            rows = self.db.conflicts.aggregate([{"$sort": {"status": ASCENDING}},
                                                {"$group": {"_id": "$status", "n": {"$sum": 1}}}])
            return {r["_id"]: r["n"] for r in rows}

    def rejected_counts(self):
        """Items refused at ingest in the batch logs kept, by source."""
        with self._errors():
            rows = self.db.batch_logs.aggregate([
                {"$match": {"rejectedCount": {"$gt": 0}}},
                {"$group": {"_id": "$source", "n": {"$sum": "$rejectedCount"}}}])
            return {r["_id"]: r["n"] for r in rows}

