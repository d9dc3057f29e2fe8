"""API keys, console users and their sessions, the audit log, leases and sign-in failures."""

from datetime import datetime
from typing import Any, Protocol

Doc = dict[str, Any]


class AccountsPort(Protocol):
    """Who may call the API or use the console, what they did, and who holds which lease."""

    def create_api_key(self, doc: Doc) -> None:
        """Store a new key document (its hash, never the key)."""

    def find_api_key(self, key_hash: str) -> Doc | None:
        """The key document with this hash, working or not (its revokedAt is when it stops)."""

    def touch_api_key(self, key_id: str, at: datetime) -> None:
        """Note when a key was last used (advisory: not durable on its own)."""

    def list_api_keys(self, app_id: str | None = None) -> list[Doc]:
        """Key documents, newest first, optionally of one app."""

    def revoke_api_key(self, key_id: str, at: datetime) -> bool:
        """Have the key stop working at `at` (now to revoke, later for a rotation's old key),
        unless it stops at or before `at` already; True when it was set."""

    def create_user(self, doc: Doc) -> None:
        """Store a console user; DuplicateKey when the name is taken."""

    def update_user(self, username: str, changes: Doc, end_sessions: bool = False) -> bool:
        """Change a user's fields and, with `end_sessions`, move its sessionEpoch on by one;
        True when the user exists."""

    def get_user(self, username: str) -> Doc | None:
        """A user document with its sessionEpoch (None before the first)."""

    def list_users(self) -> list[Doc]:
        """Every console user, by name."""

    def add_audit(self, doc: Doc) -> None:
        """Append an audit entry (at, actor, action, target, details)."""

    def list_audit(self, limit: int = 50, before_id: object = None) -> list[Doc]:
        """Audit entries, newest first, before the opaque cursor `before_id`."""

    def login_failures(self, keys: list[str]) -> dict[str, Doc]:
        """{key: {key, failures, at}} for the keys with failed sign-ins counted."""

    def add_login_failure(self, key: str, at: datetime) -> int:
        """Count one more failed sign-in for `key`; its count now."""

    def clear_login_failures(self, key: str) -> None:
        """Forget the failed sign-ins of `key`."""

    def forget_login_failures(self, before: datetime) -> None:
        """Forget every count whose last failure is at or before `before`."""

    def acquire_lock(self, name: str, owner: str, until: datetime, now: datetime) -> bool:
        """Take or renew the named lease until `until`; True when `owner` holds it."""

    def release_lock(self, name: str, owner: str) -> None:
        """Give up the named lease if `owner` holds it."""

    def get_lock(self, name: str) -> Doc | None:
        """The lease document (name, owner, until)."""
