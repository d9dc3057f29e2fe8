"""The MongoDB store (production): flask-pymongo, unique indexes, configurable write concern."""

from .accounts import MongoAccounts
from .core import MongoCore
from .ingest import MongoIngest


class MongoStore(MongoIngest, MongoAccounts, MongoCore):
    """Every store operation, on one MongoDB database."""
