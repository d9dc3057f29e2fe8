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
    }


class MongoRetention:
    """Old rows expire by TTL index; prune_expired removes them at once as well."""

    def prune_expired(self, before):
        """Delete rows older than `before`; returns the count per collection."""
        with self._errors():
            return {
                "telemetry": self.db.telemetry.delete_many(
                    {"createdAt": {"$lt": before}}).deleted_count,
                "batch_logs": self.db.batch_logs.delete_many(
                    {"startTime": {"$lt": before}}).deleted_count,
                "sync_queue": self.db.sync_queue.delete_many(
                    {"status": "done", "updatedAt": {"$lt": before}}).deleted_count,
                "sync_runs": self.db.sync_runs.delete_many(
                    {"startedAt": {"$lt": before}}).deleted_count,
            }
