"""Automatic context: what the client can tell about where it runs, sent in every item's
metadata (`metadata.context`) unless the caller gave a context of its own."""

import platform
import socket

from ._version import VERSION

LIBRARY_NAME = "prepmate-telemetry-python"


def automatic_context() -> dict:
    """The library, the host name, the Python runtime and the operating system."""
    return {
        "library": {"name": LIBRARY_NAME, "version": VERSION},
        "host": socket.gethostname(),
        "runtime": {"name": platform.python_implementation(),
                    "version": platform.python_version()},
        "os": {"name": platform.system(), "version": platform.release()},
    }
