"""MongoDB adapter: what `store check` asks, the indexes this release makes, and counts.

Backups of MongoDB are made with its own tools (mongodump/mongorestore, or snapshots): this
adapter offers no BackupToFile or RestoreFromFile capability (see the README)."""

from .events import EXPLORER_INDEXES
from .people import PEOPLE_INDEXES
from .person import PRIVACY_INDEXES
from .upgrades import SOURCES_INDEXES, baseline_indexes


def expected_indexes(store_class):
    """(collection, key) of every index the upgrade steps make (TTL indexes aside: they come
    from the settings)."""
    found = [(collection, list(keys)) for collection, keys, _ in baseline_indexes(store_class)]
    for indexes in (PEOPLE_INDEXES, SOURCES_INDEXES, PRIVACY_INDEXES, EXPLORER_INDEXES):
        found += [(collection, list(keys)) for collection, specs in indexes.items()
                  for keys, _ in specs]
    return found


class MongoMaintenance:
    """Checks and counts for `store check`."""

    def integrity_problems(self):
        """The indexes this release makes that the database lacks, one line each ([] when
        every one is there)."""
        problems = []
        present = {}
        with self._errors():
            for collection, keys in expected_indexes(type(self)):
                if collection not in present:
                    present[collection] = [
                        [(field, int(direction)) for field, direction in info["key"]]
                        for info in self.db[collection].index_information().values()]
                wanted = [(field, int(direction)) for field, direction in keys]
                if wanted not in present[collection]:
                    fields = ", ".join(f"{field} {direction}" for field, direction in wanted)
                    problems.append(f"{collection}: index ({fields}) is missing")
        return problems

    def collection_counts(self):
        """How many documents each collection holds, by its name (the server's count from
        its metadata, not a scan)."""
        with self._errors():
            names = sorted(name for name in self.db.list_collection_names()
                           if not name.startswith("system."))
            return {name: self.db[name].estimated_document_count() for name in names}
