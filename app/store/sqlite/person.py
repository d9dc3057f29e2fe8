"""SQLite adapter: a person's rows (upgrade step 5's tables, columns and indexes).

Step 5 ("privacy") is made here, not by a class `DDL`: step 1 runs the scripts of the releases
before versioned stores, which had none of it.
"""

# Upgrade step 5's script, after upgrades.privacy has added the userId columns of conflicts and
# record_versions and filled them in. A person's rows are found by (appId, userId): SQLite keeps
# the rowid at the end of every index, so each of these also walks a person's rows in order.
PRIVACY_SCRIPT = """
CREATE INDEX IF NOT EXISTS conflicts_user ON conflicts (appId, userId);
CREATE INDEX IF NOT EXISTS record_versions_user ON record_versions (appId, userId);
CREATE INDEX IF NOT EXISTS records_user ON records (appId, userId);
CREATE INDEX IF NOT EXISTS telemetry_user_time ON telemetry (appId, userId, timestamp);
CREATE INDEX IF NOT EXISTS batch_logs_user ON batch_logs (appId, userId);
CREATE TABLE IF NOT EXISTS suppressions (
    appId TEXT NOT NULL, subject TEXT NOT NULL, createdAt REAL NOT NULL,
    PRIMARY KEY (appId, subject)
);
CREATE TABLE IF NOT EXISTS tombstones (
    appId TEXT NOT NULL, kind TEXT NOT NULL, hash TEXT NOT NULL, createdAt REAL NOT NULL,
    PRIMARY KEY (appId, kind, hash)
);
CREATE TABLE IF NOT EXISTS deletions (
    id TEXT PRIMARY KEY, appId TEXT NOT NULL, subject TEXT NOT NULL, userIds TEXT,
    suppress INTEGER NOT NULL DEFAULT 0, status TEXT NOT NULL, phase TEXT, counts TEXT,
    requestedBy TEXT, requestedAt REAL NOT NULL, updatedAt REAL, finishedAt REAL, error TEXT
);
CREATE INDEX IF NOT EXISTS deletions_status ON deletions (status, requestedAt);
"""

# Step 5's backfill: a conflict's person is its queue item's; a record version's is the queue
# item's that wrote it, else (a version written by a resolution, or an item since removed) the
# record's.
BACKFILL_SQL = (
    "UPDATE conflicts SET userId = (SELECT q.userId FROM sync_queue q "
    "WHERE q.appId = conflicts.appId AND q.itemId = conflicts.itemId) WHERE userId IS NULL",
    "UPDATE record_versions SET userId = COALESCE("
    "(SELECT q.userId FROM sync_queue q WHERE q.appId = record_versions.appId "
    "AND q.itemId = record_versions.itemId), "
    "(SELECT r.userId FROM records r WHERE r.appId = record_versions.appId "
    "AND r.recordType = record_versions.recordType AND r.recordId = record_versions.recordId)) "
    "WHERE userId IS NULL",
)
