"""A per-key request limit (RATE_LIMIT_PER_MINUTE; 0 turns it off), counted in each process."""

import math
import threading
import time

WINDOW_SECONDS = 60.0


class RateLimiter:
    """Fixed one-minute windows per key; each process counts its own share of the traffic."""

    def __init__(self):
        self.per_minute = 0
        self._windows = {}
        self._lock = threading.Lock()

    def init_app(self, app):
        self.per_minute = int(app.config.get("RATE_LIMIT_PER_MINUTE") or 0)

    def retry_after(self, key_id, now=None):
        """0 when the call may go ahead, else the seconds until the key's window resets."""
        if self.per_minute <= 0:
            return 0
        now = time.monotonic() if now is None else now
        with self._lock:
            start, count = self._windows.get(key_id, (now, 0))
            if now - start >= WINDOW_SECONDS:
                start, count = now, 0
            if count >= self.per_minute:
                return max(1, math.ceil(WINDOW_SECONDS - (now - start)))
            self._windows[key_id] = (start, count + 1)
            return 0
