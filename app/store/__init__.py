"""The persistence port: `create_store(settings)` picks the adapter; nothing else touches a driver.

Both adapters take and return plain documents: dicts with the camelCase field names of SPEC.md §3,
times as aware UTC datetimes, and an `id` (an integer on SQLite, a string on MongoDB) that orders
rows by arrival and serves as an opaque keyset cursor. tests/store/ is the contract both pass.
"""

from urllib.parse import urlsplit

from .errors import BacklogFull, DataRejected, DuplicateKey, StoreError, StoreUnavailable

__all__ = [
    "BacklogFull", "DataRejected", "DuplicateKey", "StoreError", "StoreUnavailable",
    "create_store",
]

DEFAULT_MONGO_DB = "prepmate"


def _database_name(uri):
    name = urlsplit(uri).path.lstrip("/")
    return name or DEFAULT_MONGO_DB


def create_store(settings, app=None):
    """The store the settings name: MongoDB when MONGODB_URI is set, else the SQLite file."""
    uri = settings.get("MONGODB_URI")
    if not uri:
        from .sqlite import SqliteStore

        return SqliteStore(settings["SQLITE_PATH"],
                           synchronous=settings.get("SQLITE_SYNCHRONOUS", "FULL"),
                           busy_timeout_ms=int(settings.get("SQLITE_BUSY_TIMEOUT_MS", 10000)))
    from .mongo import MongoStore

    if uri.startswith("mongomock://"):
        import mongomock

        client = mongomock.MongoClient(tz_aware=True)
        return MongoStore(client.get_database(_database_name(uri)),
                          retention_days=settings.get("RETENTION_DAYS"), client=client)
    from flask_pymongo import PyMongo

    write_concern = settings.get("MONGODB_WRITE_CONCERN", "majority")
    mongo = PyMongo(
        app, uri=uri, tz_aware=True,
        w=int(write_concern) if str(write_concern).isdigit() else write_concern,
        journal=bool(settings.get("MONGODB_JOURNAL", True)),
        serverSelectionTimeoutMS=5000,
    )
    return MongoStore(mongo.cx.get_database(_database_name(uri)),
                      retention_days=settings.get("RETENTION_DAYS"), client=mongo.cx)
