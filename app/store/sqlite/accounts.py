"""SQLite adapter: API keys, console users, the audit log, cross-process locks and sign-in
failures."""

from .core import first_value, to_epoch, to_row


class SqliteAccounts:
    """Keys, users, audit entries, leases, and sign-in failures."""

    # Beside `users` (files made before session epochs open unchanged: no row reads as none).
    DDL = ("""
    CREATE TABLE IF NOT EXISTS user_sessions (username TEXT PRIMARY KEY, epoch INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS login_failures (
        key TEXT PRIMARY KEY, failures INTEGER NOT NULL, at REAL NOT NULL
    );
    CREATE INDEX IF NOT EXISTS login_failures_at ON login_failures (at);
    """,)

    def create_api_key(self, doc):
        """Store a new API key document (its hash, never the key)."""
        with self._transaction() as conn:
            self._insert(conn, "api_keys", doc)

    def find_api_key(self, key_hash):
        """The key document with this hash, revoked or not, or None."""
        return self._query_one("SELECT * FROM api_keys WHERE keyHash = ?", (key_hash,))

    def touch_api_key(self, key_id, at):
        """Record when a key was last used (advisory: not fsynced on its own)."""
        with self._transaction(durable=False) as conn:
            conn.execute("UPDATE api_keys SET lastUsedAt = ? WHERE keyId = ?",
                         (to_epoch(at), key_id))

    def list_api_keys(self, app_id=None):
        """Key documents, newest first, optionally of one app."""
        if app_id is None:
            return self._query("SELECT * FROM api_keys ORDER BY createdAt DESC")
        return self._query("SELECT * FROM api_keys WHERE appId = ? ORDER BY createdAt DESC",
                          (app_id,))

    def revoke_api_key(self, key_id, at):
        """Have a key stop working at `at` unless it stops by then already; True when set."""
        with self._transaction() as conn:
            cur = conn.execute(
                "UPDATE api_keys SET revokedAt = ? WHERE keyId = ? "
                "AND (revokedAt IS NULL OR revokedAt > ?)",
                (to_epoch(at), key_id, to_epoch(at)),
            )
            return cur.rowcount == 1

    def create_user(self, doc):
        """Store a console user; DuplicateKey when the name is taken."""
        with self._transaction() as conn:
            self._insert(conn, "users", doc)

    def update_user(self, username, changes, end_sessions=False):
        """Change fields of a user (role, passwordHash, lastLoginAt) and, with `end_sessions`,
        move its sessionEpoch on by one; True when found."""
        row = to_row(changes)
        with self._transaction() as conn:
            if not first_value(conn, "SELECT 1 FROM users WHERE username = ?", (username,)):
                return False
            if row:
                sets = ", ".join(f"{k} = ?" for k in row)
                conn.execute(f"UPDATE users SET {sets} WHERE username = ?",
                             (*row.values(), username))
            if end_sessions:
                conn.execute("INSERT INTO user_sessions (username, epoch) VALUES (?, 1) "
                             "ON CONFLICT (username) DO UPDATE SET epoch = epoch + 1", (username,))
            return True

    def get_user(self, username):
        """The user document with its sessionEpoch (None before the first), or None."""
        return self._query_one(
            "SELECT users.*, user_sessions.epoch AS sessionEpoch FROM users "
            "LEFT JOIN user_sessions USING (username) WHERE username = ?", (username,))

    def list_users(self):
        """Every console user, by name."""
        return self._query("SELECT * FROM users ORDER BY username")

    def add_audit(self, doc):
        """Append an audit entry (at, actor, action, target, details)."""
        with self._transaction() as conn:
            self._insert(conn, "audit_log", doc)

    def list_audit(self, limit=50, before_id=None):
        """Audit entries, newest first, keyset-paginated by id (a cursor that is not an id
        finds nothing)."""
        if before_id is None:
            return self._query("SELECT * FROM audit_log ORDER BY id DESC LIMIT ?", (limit,))
        before_id = self.parse_id(before_id)
        if before_id is None:
            return []
        return self._query("SELECT * FROM audit_log WHERE id < ? ORDER BY id DESC LIMIT ?",
                          (before_id, limit))

    def login_failures(self, keys):
        """{key: {key, failures, at}} for the keys that have failed sign-ins counted."""
        keys = list(keys)
        rows = self._query(f"SELECT * FROM login_failures WHERE key IN "
                          f"({', '.join('?' * len(keys))})", keys) if keys else []
        return {row["key"]: row for row in rows}

    def add_login_failure(self, key, at):
        """Count one more failed sign-in for `key` at `at`; returns its count."""
        with self._transaction() as conn:
            [row] = conn.execute(
                "INSERT INTO login_failures (key, failures, at) VALUES (?, 1, ?) "
                "ON CONFLICT (key) DO UPDATE SET failures = failures + 1, at = excluded.at "
                "RETURNING failures", (key, to_epoch(at))).fetchall()
        return row["failures"]

    def clear_login_failures(self, key):
        """Forget the failed sign-ins of `key`."""
        with self._transaction() as conn:
            conn.execute("DELETE FROM login_failures WHERE key = ?", (key,))

    def forget_login_failures(self, before):
        """Forget every count whose last failure is at or before `before`."""
        with self._transaction(durable=False) as conn:
            conn.execute("DELETE FROM login_failures WHERE at <= ?", (to_epoch(before),))

    def acquire_lock(self, name, owner, until, now):
        """Take or renew the named lease until `until`; True when `owner` holds it."""
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO locks (name, owner, until) VALUES (?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until = excluded.until "
                "WHERE locks.owner = excluded.owner OR locks.until < ?",
                (name, owner, to_epoch(until), to_epoch(now)),
            )
            return first_value(conn, "SELECT owner FROM locks WHERE name = ?", (name,)) == owner

    def release_lock(self, name, owner):
        """Give up the named lease if `owner` holds it."""
        with self._transaction() as conn:
            conn.execute("DELETE FROM locks WHERE name = ? AND owner = ?", (name, owner))

    def get_lock(self, name):
        """The lease document (name, owner, until), or None."""
        return self._query_one("SELECT * FROM locks WHERE name = ?", (name,))
