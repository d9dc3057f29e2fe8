"""What a person's access request asks of a store: small bounded reads of one person's rows.

A person is one app's rows under a list of ids (the userId and its anonymousIds, as the people
rules resolve them; a queue item's userId is its userId, else its anonymousId). Each read gives
the rows newest first, at most `limit`, each with an opaque `key` (the adapter's keyset
position); `before` is the last row's key of the previous read. Index-backed (store step 5):
a read costs its `limit`, however many rows the person has.
"""

from collections.abc import Sequence
from typing import Any, Protocol

Doc = dict[str, Any]


class PersonDataStore(Protocol):
    """One person's queue items, records, record versions, conflicts and batch logs."""

    def person_queue_items(self, app_id: str, user_ids: Sequence[str], before: Any = None,
                           limit: int = 100) -> list[Doc]:
        """The person's queue items (payloads included), newest first, after key `before`."""

    def person_records(self, app_id: str, user_ids: Sequence[str], before: Any = None,
                       limit: int = 100) -> list[Doc]:
        """The records whose userId is one of the person's, newest first, after `before`."""

    def person_record_versions(self, app_id: str, user_ids: Sequence[str], before: Any = None,
                               limit: int = 100) -> list[Doc]:
        """The record versions the person's items wrote, newest first, after `before`."""

    def person_conflicts(self, app_id: str, user_ids: Sequence[str], before: Any = None,
                         limit: int = 100) -> list[Doc]:
        """The conflicts of the person's items (values included), newest first, after
        `before`."""

    def person_batch_logs(self, app_id: str, user_ids: Sequence[str], before: Any = None,
                          limit: int = 100) -> list[Doc]:
        """The batch logs of the person's batches, newest first, after `before`."""
