"""What a log line belongs to: the request being answered and the sync run going on, held in
context variables that any layer may set and the log formatter reads (nothing here imports
the app or flask, so the services can say which run they are in)."""

import contextvars
from contextlib import contextmanager

# The header a request's id travels in, both ways, and the ids a caller may choose: 1 to 128 of
# these ASCII characters (letters, digits, - _ . :). The id goes into every log line of the
# request, where anything else (CR/LF, escape sequences, quotes, non-ASCII look-alikes, a huge
# value) has no place; app/http.py replaces any other, and the API document publishes the rule.
REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_PATTERN = r"[A-Za-z0-9_.:-]{1,128}"
# The id of the request this thread is answering (set by the WSGI layer, app/http.py).
request_id = contextvars.ContextVar("prepmate.request_id", default=None)
# The id of the sync run this thread is running (set where a run executes, app/sync/jobs.py).
run_id = contextvars.ContextVar("prepmate.run_id", default=None)


@contextmanager
def bound(var, value):
    """Hold `value` in the context variable `var` for the block, then restore what it was."""
    token = var.set(value)
    try:
        yield value
    finally:
        var.reset(token)


def in_run(the_run_id):
    """The block is part of sync run `the_run_id`: its log lines say so."""
    return bound(run_id, the_run_id)
