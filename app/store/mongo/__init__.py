"""The MongoDB store (production): flask-pymongo, unique indexes, configurable write concern."""

from .accounts import MongoAccounts
from .console import MongoConsole
from .core import MongoCore
from .erasure import MongoErasure
from .events import MongoEvents
from .ingest import MongoIngest
from .maintenance import MongoMaintenance
from .people import MongoPeople
from .person import MongoPerson
from .privacy import MongoPrivacy
from .retention import MongoRetention
from .runs import MongoRuns
from .sync import MongoSync


class MongoStore(MongoSync, MongoIngest, MongoAccounts, MongoConsole, MongoRetention,
                 MongoRuns, MongoPeople, MongoPerson, MongoPrivacy, MongoEvents, MongoErasure,
                 MongoMaintenance, MongoCore):
    """Every store operation, on one MongoDB database."""
