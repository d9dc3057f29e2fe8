"""Store-independent pieces both adapters share: ids, clocks, queue states and JSON text."""

import os
import time
from datetime import UTC, datetime

# Queue states in which an item still waits for the sync engine (they count toward the backlog).
OPEN_STATES = ("pending", "processing", "failed")
QUEUE_STATES = ("pending", "processing", "done", "failed", "conflict", "dead")
# The largest integer SQLite and BSON store: ids and counts beyond it name nothing.
INT64_MAX = 2**63 - 1


def utcnow():
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


def int64(value):
    """The integer `value` names (an int, or a string of ASCII digits) when it fits 64 signed
    bits, else None: "²" and "１" are digits to str.isdigit but not to SQLite or BSON."""
    if isinstance(value, str):
        if not (value.isascii() and value.isdigit()) or len(value) > 19:
            return None
        value = int(value)
    if type(value) is not int or not 0 <= value <= INT64_MAX:
        return None
    return value


def uuid7():
    """A UUIDv7 string: time-ordered, so unique indexes insert it near their end."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def unreadable_item(row_id, app_id, item_id, attempts, error, **extra):
    """A claimed queue item whose stored row cannot be read back: only what settling it needs,
    with `unreadable`, the exception converting it raised (the sync engine decides its fate)."""
    return {"id": row_id, "appId": app_id, "itemId": item_id, "itemType": None, "seq": None,
            "clientId": None, "attempts": attempts if isinstance(attempts, int) else 1,
            "unreadable": error, **extra}


class EncodedJson(str):
    """JSON text that also carries its decoded value: SQLite stores the text, MongoDB the value,
    and neither encodes it a second time."""

    __slots__ = ("value",)

    def __new__(cls, text, value):
        obj = super().__new__(cls, text)
        obj.value = value
        return obj


class Capabilities:
    """How an adapter offers a store-specific fast path: `CAPABILITIES` maps a port Protocol to
    the attribute that implements it, and `capability(kind)` answers it, or None when this store
    has no such path (the service then takes the portable one)."""

    CAPABILITIES = {}

    def capability(self, kind):
        """This store's implementation of the optional `kind` (a Protocol), or None."""
        name = self.CAPABILITIES.get(kind)
        return None if name is None else getattr(self, name)
