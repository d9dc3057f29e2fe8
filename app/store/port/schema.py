"""The store's schema version and its upgrade steps (the rules are in app/store/schema.py)."""

from datetime import datetime
from typing import Protocol


class SchemaPort(Protocol):
    """What a store records of its schema, and how it takes one upgrade step."""

    def schema_version(self) -> int | None:
        """The schema version the store is at: None for a new, empty store; 0 for one made by a
        release from before versioned stores."""

    def schema_history(self) -> list[dict]:
        """The upgrade steps applied to the store, oldest first: version, name, release and
        appliedAt."""

    def upgrade_step(self, version: int, name: str, release: str, now: datetime) -> bool:
        """Take the store from `version` - 1 to `version` and record it (`name`, `release`,
        `now`), as one unit where the store can; False when it had been taken already."""

    def apply_settings(self) -> None:
        """Make what the settings ask of the store beyond its schema (RETENTION_DAYS's TTL
        indexes on MongoDB); idempotent."""
