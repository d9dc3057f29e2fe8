"""Logging set-up: `DEBUG=prepmate:*` (or `prepmate:sync,prepmate:api`) and `VERBOSITY=debug`."""

import fnmatch
import logging

NAMESPACES = ("prepmate", "prepmate.api", "prepmate.sync", "prepmate.store", "prepmate.console",
              "prepmate.scheduler")


def configure_logging(app):
    """Set the prepmate loggers' levels from the settings; handlers stay the host's (gunicorn's)."""
    base = logging.getLogger("prepmate")
    if not base.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        base.addHandler(handler)
    verbosity = str(app.config.get("VERBOSITY") or "info").upper()
    base.setLevel(getattr(logging, verbosity, logging.INFO))
    patterns = [p.strip() for p in str(app.config.get("DEBUG_NAMESPACES") or "").split(",")
                if p.strip()]
    for name in NAMESPACES:
        colon_name = name.replace(".", ":")
        if any(fnmatch.fnmatch(colon_name, p) for p in patterns):
            logging.getLogger(name).setLevel(logging.DEBUG)
