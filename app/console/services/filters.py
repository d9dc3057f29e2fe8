"""Reading a console page's query arguments into store filters, and back into links."""

from ...store.common import QUEUE_STATES

PAGE_SIZE = 50
ERROR_STATES = ("failed", "dead")
# The filters that name one value of a queue item's field: (filter key, query argument).
FIELD_ARGS = (("itemType", "type"), ("userId", "user"), ("appId", "app"))


def queue_filters(args, allowed_states=QUEUE_STATES):
    """The store filters a page's query arguments (status, type, user, app) ask for."""
    status = (args.get("status") or "").strip()
    statuses = [status] if status in allowed_states else None
    if allowed_states != QUEUE_STATES and statuses is None:
        statuses = list(allowed_states)
    filters = {"statuses": statuses}
    for key, arg in FIELD_ARGS:
        value = (args.get(arg) or "").strip()
        if value:
            filters[key] = value[:200]
    return filters


def filter_args(filters, allowed_states=QUEUE_STATES):
    """The query arguments that reproduce `filters` (for links, redirects and forms)."""
    args = {}
    statuses = filters.get("statuses") or []
    if len(statuses) == 1:
        args["status"] = statuses[0]
    for key, arg in FIELD_ARGS:
        if filters.get(key):
            args[arg] = filters[key]
    return args


def describe(filters):
    """A short human description of a filter, for confirmations and the audit log."""
    parts = [f"status {' or '.join(filters.get('statuses') or ERROR_STATES)}"]
    for key, label in (("itemType", "type"), ("userId", "user"), ("appId", "app")):
        if filters.get(key):
            parts.append(f"{label} {filters[key]}")
    return ", ".join(parts)


def page(rows, limit, key):
    """(rows of this page, cursor of the next page or None) from limit+1 fetched rows."""
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (key(rows[-1]) if more and rows else None)
