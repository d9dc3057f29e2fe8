"""MongoDB adapter: retention through TTL indexes (RETENTION_DAYS), and the same prune call."""

from pymongo import ASCENDING


def ttl_indexes(days):
    """TTL indexes removing applied events, batch logs, done queue items and sync runs after
    `days`."""
    seconds = int(days * 86400)
    return {
        "telemetry": [([("createdAt", ASCENDING)], {"expireAfterSeconds": seconds,
                                                     "name": "retention_createdAt"})],
        "batch_logs": [([("startTime", ASCENDING)], {"expireAfterSeconds": seconds,
                                                     "name": "retention_startTime"})],
        "sync_queue": [([("updatedAt", ASCENDING)], {
            "expireAfterSeconds": seconds, "name": "retention_updatedAt",
            "partialFilterExpression": {"status": "done"}})],
        "sync_runs": [([("startedAt", ASCENDING)], {"expireAfterSeconds": seconds,
                                                    "name": "retention_startedAt"})],
        # The explorer's hourly counts go with the events the TTL index above removes (those
        # go by arrival, these by the hour of the events' time: the same for most events).
        "event_hours": [([("hour", ASCENDING)], {"expireAfterSeconds": seconds,
                                                  "name": "retention_hour"})],
    }


# Events deleted per step by prune_expired, each step lowering the explorer's hourly counts.
CHUNK = 5000


class MongoRetention:
    """Old rows expire by TTL index; prune_expired removes them at once as well."""

    def _prune_events(self, before):
        """Delete the events that arrived before `before`, a chunk at a time, lowering
        event_hours by what each chunk deleted; how many."""
        removed = 0
        while True:
            doomed = list(self.db.telemetry.find(
                {"createdAt": {"$lt": before}}, {"appId": 1, "eventType": 1, "timestamp": 1},
                limit=CHUNK))
            if not doomed:
                return removed
            deleted = self.db.telemetry.delete_many(
                {"_id": {"$in": [doc["_id"] for doc in doomed]}}).deleted_count
            # Where another process deleted some first, it lowers their counts itself; the
            # counts may then be off by the events both were deleting at once.
            if deleted == len(doomed):
                self._count_hours(doomed, -1)
            removed += deleted

    def prune_expired(self, before):
        """Delete rows older than `before`; returns the count per collection."""
        with self._errors():
            return {
                "telemetry": self._prune_events(before),
                "batch_logs": self.db.batch_logs.delete_many(
                    {"startTime": {"$lt": before}}).deleted_count,
                "sync_queue": self.db.sync_queue.delete_many(
                    {"status": "done", "updatedAt": {"$lt": before}}).deleted_count,
                "sync_runs": self.db.sync_runs.delete_many(
                    {"startedAt": {"$lt": before}}).deleted_count,
            }
