"""Errors every store adapter raises, so callers never see a driver's own exceptions."""


class StoreError(Exception):
    """Base class of store errors."""


class StoreUnavailable(StoreError):
    """The store cannot be reached or is locked: a temporary condition, worth retrying."""


class DuplicateKey(StoreError):
    """A unique key already exists."""


class DataRejected(StoreError):
    """The store refused a value it was given (a stored item it cannot take apart, a document it
    cannot hold): written again, it fails again."""


class BacklogFull(StoreError):
    """A user's open queue would grow past the configured limit."""

    def __init__(self, user_id, open_items, limit):
        super().__init__(f"user {user_id!r} has {open_items} open items (limit {limit})")
        self.user_id = user_id
        self.open_items = open_items
        self.limit = limit


class StoreInUse(StoreError):
    """Another process has the store open (a server, its scheduler, a command): what needs the
    store to itself (a restore) is refused."""


class BackupInvalid(StoreError):
    """A file offered as a backup is not a sound store of this project."""
