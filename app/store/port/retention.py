"""Removing what is older than the retention period."""

from datetime import datetime
from typing import Protocol


class RetentionPort(Protocol):
    """Applied events, batch logs, done queue items and sync runs past RETENTION_DAYS."""

    def prune_expired(self, before: datetime) -> dict[str, int]:
        """Delete what is older than `before`, oldest first; the count removed per table."""
