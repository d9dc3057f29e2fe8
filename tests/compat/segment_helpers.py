"""What the Segment compatibility tests send and read back (readback.py has what both
protocols' tests read)."""

import base64

from .readback import event_counts, profile, protocol_logs, queued, sync_now  # noqa: F401


def basic(write_key):
    """The Authorization header Segment's libraries send: the write key as Basic user name."""
    return "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()


def segment_logs(store):
    """The batch logs of Segment requests (without per-item results), newest first."""
    return protocol_logs(store, "segment")
