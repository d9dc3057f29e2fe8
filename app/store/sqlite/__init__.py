"""The embedded SQLite store: a durable file in WAL mode with real unique keys and transactions."""

from ..port.events import EventJsonChunks
from ..port.maintenance import BackupToFile, RestoreFromFile
from ..port.sync import ApplyNewEvents
from .accounts import SqliteAccounts
from .console import SqliteConsole
from .core import SqliteCore
from .erasure import SqliteErasure
from .events import SqliteEvents
from .ingest import SqliteIngest
from .maintenance import SqliteMaintenance
from .people import SqlitePeople
from .person import SqlitePerson
from .privacy import SqlitePrivacy
from .retention import SqliteRetention
from .runs import SqliteRuns
from .sync import SqliteSync


class SqliteStore(SqliteSync, SqliteIngest, SqliteAccounts, SqliteConsole, SqliteRetention,
                  SqliteRuns, SqlitePeople, SqlitePerson, SqlitePrivacy, SqliteEvents,
                  SqliteErasure, SqliteMaintenance, SqliteCore):
    """Every store operation, on one SQLite file."""

    # Optional fast paths (store/common.py Capabilities), each a Protocol of store/port/.
    CAPABILITIES = {ApplyNewEvents: "_apply_new_events", EventJsonChunks: "_event_json_chunks",
                    BackupToFile: "_backup_to_file", RestoreFromFile: "_restore_from_file"}
