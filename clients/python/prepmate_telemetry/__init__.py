"""PrepMate Telemetry & Sync client: a durable offline queue sent in batches, never twice."""

from ._uuid import uuid7
from ._version import VERSION
from .client import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_FLUSH_INTERVAL,
    DEFAULT_MAX_QUEUE,
    MAX_BATCH_BYTES,
    MAX_ITEM_BYTES,
    FlushResult,
    TelemetryClient,
    TelemetryError,
    default_queue_path,
    timestamp_problem,
)

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_FLUSH_INTERVAL",
    "DEFAULT_MAX_QUEUE",
    "MAX_BATCH_BYTES",
    "MAX_ITEM_BYTES",
    "FlushResult",
    "TelemetryClient",
    "TelemetryError",
    "default_queue_path",
    "timestamp_problem",
    "uuid7",
]
__version__ = VERSION
