"""UUIDv7 ids (RFC 9562): time-ordered, so the server's unique indexes take them in order."""

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_counter = 0


def uuid7() -> str:
    """A new UUIDv7 string; ids made by one process keep increasing."""
    global _last_ms, _counter
    rand = os.urandom(10)
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms > _last_ms:
            _last_ms = ms
            # Start low in the 12-bit counter so ids of the same millisecond keep increasing.
            _counter = int.from_bytes(rand[:2], "big") & 0x7FF
        else:
            _counter += 1
            if _counter > 0xFFF:
                _last_ms += 1
                _counter = 0
            ms = _last_ms
        counter = _counter
    value = (ms & 0xFFFFFFFFFFFF) << 80
    value |= 0x7 << 76
    value |= counter << 64
    value |= 0b10 << 62
    value |= int.from_bytes(rand[2:], "big") & ((1 << 62) - 1)
    return str(uuid.UUID(int=value))


def _after_fork_in_child() -> None:
    # The parent's lock may have been held by another thread at the moment of fork.
    global _lock
    _lock = threading.Lock()
