"""What must remember a person after erasure: the suppression list and the tombstones of erased
ids, each kept as a keyed hash (app/accounts/privacy.py), never the clear id.

Ingest (app/ingest/suppression.py) asks `privacy_marks` once per call, and only when the app has
suppressions or tombstones does it hash the call's people and ids and look them up, once each.
"""

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Protocol


class PrivacyPort(Protocol):
    """Suppressions (appId, subject) and tombstones (appId, kind, hash), found by primary key."""

    def privacy_marks(self, app_id: str) -> tuple[bool, bool]:
        """(whether the app has any suppression, whether it has any tombstone): two EXISTS."""

    def suppressed_among(self, app_id: str, subjects: Iterable[str]) -> set[str]:
        """The person hashes among `subjects` that are suppressed in the app."""

    def tombstoned_among(self, app_id: str, kind: str | Sequence[str],
                         hashes: Iterable[str]) -> set[str]:
        """The hashes among `hashes` tombstoned in the app under `kind` (one kind, or several:
        hashes of different kinds never match each other)."""

    def add_suppression(self, app_id: str, subject: str, at: datetime) -> bool:
        """Suppress a person hash in the app; False when it already was (left as it was)."""

    def lift_suppression(self, app_id: str, subject: str) -> bool:
        """Lift a person hash's suppression; False when it was not suppressed."""

    def is_suppressed(self, app_id: str, subject: str) -> datetime | None:
        """When the person hash was suppressed in the app, or None when it is not."""

    def suppression_count(self, app_id: str) -> int:
        """How many people are suppressed in the app (an index-only count)."""

    def add_tombstones(self, app_id: str, kind: str, hashes: Iterable[str],
                       at: datetime) -> int:
        """Tombstone hashes of one kind in the app (those already there are kept); how many
        were new."""
