"""The storage port: every operation the services ask of a store, as typing Protocols.

Each area declares its small operations in its own module of this package, and `Store` is the
union of them. Rules (what is a duplicate, when a backlog is full, which run failed) live in the
services above the port; adapters only translate operations to their driver. A store-specific
fast path is not part of `Store`: it is one of the optional `CAPABILITY_KINDS`, which a service
asks for with `store.capability(kind)` and does without when the answer is None.
"""

from typing import Protocol

from .accounts import AccountsPort
from .console import ConsoleStore
from .core import CorePort
from .erasure import ErasurePort
from .events import EventJsonChunks, EventsPort
from .ingest import IngestPort
from .maintenance import BackupToFile, MaintenancePort, RestoreFromFile
from .people import PeoplePort
from .person import PersonDataStore
from .privacy import PrivacyPort
from .retention import RetentionPort
from .runs import RunsPort
from .schema import SchemaPort
from .sync import ApplyNewEvents, SyncPort

__all__ = ["CAPABILITY_KINDS", "ApplyNewEvents", "BackupToFile", "EventJsonChunks",
           "RestoreFromFile", "Store"]


class Store(CorePort, SchemaPort, IngestPort, SyncPort, RunsPort, ConsoleStore, AccountsPort,
            RetentionPort, PeoplePort, PersonDataStore, PrivacyPort, EventsPort, ErasurePort,
            MaintenancePort, Protocol):
    """Everything a store does: both adapters implement exactly these operations."""


# The optional fast paths a store may offer (see Capabilities in app/store/common.py).
CAPABILITY_KINDS = (ApplyNewEvents, EventJsonChunks, BackupToFile, RestoreFromFile)
