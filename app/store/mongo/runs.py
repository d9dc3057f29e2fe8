"""MongoDB adapter: sync runs, one document each, so any process can answer about any run."""

from pymongo import ASCENDING

from .core import to_doc

RUN_INDEXES = {"sync_runs": [([("runId", ASCENDING)], {"unique": True})]}


class MongoRuns:
    """The sync_runs collection: a run's record, its progress rewritten after every batch."""

    INDEXES = (RUN_INDEXES,)

    def add_sync_run(self, doc):
        """Store a new run's record."""
        with self._errors():
            self.db.sync_runs.insert_one(dict(doc))

    def update_sync_run(self, run_id, changes, durable=True):
        """Change fields of a run's record; True when found (as durable as the write concern
        makes every write)."""
        with self._errors():
            return self.db.sync_runs.update_one(
                {"runId": run_id}, {"$set": dict(changes)}).matched_count == 1

    def get_sync_run(self, run_id):
        """A run's record, or None."""
        with self._errors():
            return to_doc(self.db.sync_runs.find_one({"runId": run_id}))

    def delete_sync_run(self, run_id):
        """Forget a run's record (a run that never got the lease)."""
        with self._errors():
            self.db.sync_runs.delete_one({"runId": run_id})
