"""Erasing a person: the deletions that track it, and the bounded steps that remove the
person's rows (app/privacy/erasure.py holds the rules: which ids, which order, when it is done).
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

Doc = dict[str, Any]
# (kind, values) -> the keyed hashes of the values (app/accounts/privacy.py id_hashes), for the
# tombstones a step writes beside its deletes.
Hasher = Callable[[str, list[str]], list[str]]

# The phases erase_step knows, in the order the service takes them.
ERASE_PHASES = ("batches", "events", "queue", "conflicts", "records", "versions", "people")


class ErasurePort(Protocol):
    """Deletions (id, appId, subject, userIds, suppress, status, phase, counts, requestedBy,
    requestedAt, updatedAt, finishedAt, error), the steps that erase, and what an erasure leaves
    behind (tombstones and the suppression row)."""

    def add_deletion(self, doc: Doc) -> None:
        """Store a new deletion document (its `id` chosen by the caller)."""

    def get_deletion(self, deletion_id: str) -> Doc | None:
        """The deletion with this id, or None."""

    def open_deletions(self, limit: int) -> list[Doc]:
        """Deletions still pending or running, oldest request first, at most `limit`."""

    def update_deletion(self, deletion_id: str, changes: Doc) -> bool:
        """Set fields of a deletion (status, phase, counts, userIds, updatedAt, finishedAt,
        error); True when it exists."""

    def has_deletion(self, app_id: str, subject: str) -> bool:
        """Whether the store records a deletion of the person hashed `subject` in the app."""

    def erase_step(self, app_id: str, user_ids: list[str], phase: str, limit: int,
                   hasher: Hasher, now: datetime) -> int:
        """In one transaction, erase at most `limit` rows of `phase` (ERASE_PHASES) belonging
        to `user_ids` in the app, writing the tombstones of their eventIds, itemIds and batchIds
        (hashed by `hasher`) beside them; the number of rows erased (0: the phase is done).
        batches keep their counts but lose userId and their other people's results."""

    def replace_audit(self, entry_id: object, target: str | None, details: Doc | None) -> None:
        """Overwrite an audit entry's target and details (an erasure's scrubbing)."""

    def person_ids_after(self, app_id: str, after: str | None, limit: int) -> list[str]:
        """The app's distinct userIds and anonymousIds (profiles, identities, events, queue
        items) after `after` in order, at most `limit`: keyset pages over every person."""

    def flush_erased(self) -> bool:
        """Make what the erasing steps freed unreadable on disk (SQLite: a TRUNCATE checkpoint
        of the WAL); False when it must be tried again later (readers hold old snapshots)."""
