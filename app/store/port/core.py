"""The store's life cycle, its unit of work, ids, and optional capabilities."""

from contextlib import AbstractContextManager
from typing import Protocol


class CorePort(Protocol):
    """What every store is, whatever it holds."""

    kind: str

    def unit_of_work(self, durable: bool = True) -> AbstractContextManager[None]:
        """The operations called inside, on this thread, as one unit: SQLite commits them as
        one transaction; MongoDB makes them ordered, idempotent writes (no transaction)."""

    def savepoint(self) -> AbstractContextManager[None]:
        """A nested unit inside unit_of_work(), undone alone where the store can."""

    def capability(self, kind: type) -> object | None:
        """This store's fast path of the optional `kind` (a Protocol), or None."""

    def parse_id(self, value: object) -> str | int | None:
        """The id `value` names on this store (an opaque cursor), or None when it names none."""

    def ping(self) -> None:
        """Raise StoreUnavailable unless the store answers."""

    def close(self) -> None:
        """Let go of connections."""

    def reset(self) -> None:
        """Empty every table or collection but the schema versions (tests only)."""
