"""What the PostHog compatibility tests send and read back (readback.py has what both
protocols' tests read)."""

from .readback import event_counts, profile, protocol_logs, queued, sync_now  # noqa: F401

# The paths the libraries send events to (posthog-python and posthog-node: /batch/;
# posthog-js: /e/).
CAPTURE_PATHS = ("/batch/", "/e/")
ESCAPED_DOLLAR, ESCAPED_DOT = "\uff04", "\uff0e"


def posthog_logs(store):
    """The batch logs of PostHog requests (without per-item results), newest first."""
    return protocol_logs(store, "posthog")


def posthog_key(name):
    """A PostHog property name as the store keeps it (schemas.storable.escaped)."""
    if name.startswith("$"):
        name = ESCAPED_DOLLAR + name[1:]
    return name.replace(".", ESCAPED_DOT)
