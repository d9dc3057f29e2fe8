"""Logging set-up: `LOG_FORMAT=text|json`, `DEBUG=prepmate:*` (or `prepmate:sync,prepmate:api`)
and `VERBOSITY=debug`. Every line names the request and the sync run it belongs to."""

import fnmatch
import json
import logging
import re
import sys
from datetime import UTC, datetime

from flask import g, has_request_context, request

from .context import request_id, run_id

NAMESPACES = ("prepmate", "prepmate.api", "prepmate.sync", "prepmate.store", "prepmate.console",
              "prepmate.scheduler", "prepmate.http")
# What a record may carry besides its message (the access line gives them all), in line order.
FIELDS = ("appId", "route", "method", "path", "status", "durationMs")
# C0 and C1 control characters (CR, LF, ESC of terminal escape sequences...): a text line shows
# them escaped, so nothing a caller sent can start a line of its own or recolour a terminal.
CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(text):
    """`text` with its control characters escaped (\\n, \\x1b, ...)."""
    if CONTROLS.search(text) is None:
        return text
    return CONTROLS.sub(lambda m: m.group().encode("unicode_escape").decode(), text)


def context_of(record):
    """What the record belongs to: its request id, run id, app, route and the fields it was
    given; a field the record has is never overridden."""
    found = {}
    rid, run = request_id.get(), run_id.get()
    if rid is not None:
        found["requestId"] = rid
    if run is not None:
        found["runId"] = run
    if has_request_context():
        app_id = g.get("app_id")
        if app_id is not None:
            found["appId"] = app_id
        if request.url_rule is not None:
            found["route"] = request.url_rule.rule
    for name in FIELDS:
        value = getattr(record, name, None)
        if value is not None:
            found[name] = value
    return found


class TextFormatter(logging.Formatter):
    """`2026-01-02 03:04:05,678 INFO prepmate.sync request=… app=… run=…: message`, today's
    shape with the ids when there are any; control characters in the message are escaped."""

    def format(self, record):
        found = context_of(record)
        ids = "".join(f" {label}={found[key]}" for key, label in
                      (("requestId", "request"), ("appId", "app"), ("runId", "run"))
                      if key in found)
        line = (f"{self.formatTime(record)} {record.levelname} {record.name}{ids}: "
                f"{printable(record.getMessage())}")
        return line + _exception_text(self, record, "\n")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (ISO 8601, UTC), level, namespace, message, then the
    request id, run id, app, route, status and duration when known, and the exception. ASCII
    only: every control or non-ASCII character is a \\u escape."""

    def format(self, record):
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "namespace": record.name.replace(".", ":"),
            "message": record.getMessage(),
            **context_of(record),
        }
        exception = _exception_text(self, record, "")
        if exception:
            entry["exception"] = exception
        return json.dumps(entry, default=str)


def _exception_text(formatter, record, before):
    """The record's traceback and stack, as logging.Formatter writes them, or ""."""
    text = ""
    if record.exc_info and not record.exc_text:
        record.exc_text = formatter.formatException(record.exc_info)
    if record.exc_text:
        text = record.exc_text
    if record.stack_info:
        text = (text + "\n" if text else "") + formatter.formatStack(record.stack_info)
    return before + text if text else ""


class StderrHandler(logging.StreamHandler):
    """Writes each line to sys.stderr as it is when the line is written (not when the handler
    was made), as logging's own last-resort handler does."""

    def __init__(self):
        logging.Handler.__init__(self)  # not StreamHandler's, which would fix the stream

    @property
    def stream(self):
        return sys.stderr


def configure_logging(app):
    """Set the prepmate loggers' levels and line format from the settings.

    Text lines go to the host's handlers when it has any (gunicorn, a test), else to stderr.
    JSON lines always go to stderr through our own handler, and only there: a host's handler
    would print them again in its own shape.
    """
    log_format = app.config["LOG_FORMAT"]
    base = logging.getLogger("prepmate")
    ours = next((h for h in base.handlers if isinstance(h, StderrHandler)), None)
    hosted = any(h is not ours for h in base.handlers) or bool(logging.getLogger().handlers)
    if log_format == "json" or not hosted:
        if ours is None:
            ours = StderrHandler()
            base.addHandler(ours)
        ours.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    elif ours is not None:
        base.removeHandler(ours)
    base.propagate = log_format != "json"

    patterns = [p.strip() for p in str(app.config.get("DEBUG_NAMESPACES") or "").split(",")
                if p.strip()]

    def named(name):
        return any(fnmatch.fnmatch(name.replace(".", ":"), p) for p in patterns)

    verbosity = str(app.config.get("VERBOSITY") or "info").upper()
    base.setLevel(logging.DEBUG if named("prepmate")
                  else getattr(logging, verbosity, logging.INFO))
    for name in NAMESPACES[1:]:
        # A namespace not named follows the base level (an earlier app's DEBUG is undone).
        logging.getLogger(name).setLevel(logging.DEBUG if named(name) else logging.NOTSET)
