"""Waiting in tests for something that happens in another thread or process."""

import time


def wait_for(predicate, seconds=5.0, interval=0.05):
    """Whether `predicate()` became true within `seconds`, asking every `interval` seconds."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
