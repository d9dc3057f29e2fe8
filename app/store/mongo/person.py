"""MongoDB adapter: a person's rows (upgrade step 5's fields and indexes).

Step 5 ("privacy") is made here, not by a class `INDEXES`: step 1 makes the indexes of the
releases before versioned stores, which had none of it.
"""

from pymongo import ASCENDING, DESCENDING

# Upgrade step 5's indexes. A person's rows are found by (appId, userId) and walked newest first
# by _id (SQLite's indexes end with the rowid, which plays the same part there).
PRIVACY_INDEXES = {
    "conflicts": [([("appId", ASCENDING), ("userId", ASCENDING), ("_id", DESCENDING)], {})],
    "record_versions": [([("appId", ASCENDING), ("userId", ASCENDING), ("_id", DESCENDING)],
                         {})],
    "records": [([("appId", ASCENDING), ("userId", ASCENDING), ("_id", DESCENDING)], {})],
    "telemetry": [([("appId", ASCENDING), ("userId", ASCENDING), ("timestamp", DESCENDING),
                    ("_id", DESCENDING)], {})],
    "batch_logs": [([("appId", ASCENDING), ("userId", ASCENDING), ("_id", DESCENDING)], {})],
    "suppressions": [([("appId", ASCENDING), ("subject", ASCENDING)], {"unique": True})],
    "tombstones": [([("appId", ASCENDING), ("kind", ASCENDING), ("hash", ASCENDING)],
                    {"unique": True})],
    # A deletion's id is its _id.
    "deletions": [([("status", ASCENDING), ("requestedAt", ASCENDING)], {})],
}
# Rows filled in per round trip by step 5's backfill.
BACKFILL_CHUNK = 500
