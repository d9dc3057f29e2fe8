"""The event explorer: its query arguments, the events port's filter, and the stacked chart.

A page's arguments are `type` (one or more, comma-separated), `user` (a userId or an
anonymousId), `app`, `event` (an eventId), and a time range: `range` one of the presets, or
`range=custom` with `from` and/or `to` (UTC; a missing `to` is now, a missing `from` a day before
`to`). Presets have no upper bound, so an event a client dated a little ahead still shows. The
chart counts per hour for spans up to three days and per day beyond; bad arguments raise
FilterInvalid naming the argument, and nothing is read.
"""

from datetime import UTC, datetime, timedelta

from ...store.common import utcnow

PRESETS = {"1h": ("last hour", timedelta(hours=1)), "24h": ("last 24 h", timedelta(hours=24)),
           "7d": ("last 7 days", timedelta(days=7)), "30d": ("last 30 days", timedelta(days=30))}
DEFAULT_RANGE = "24h"
CUSTOM = "custom"
HOURLY_UP_TO = timedelta(days=3)
# A custom range of more than about two years would draw bars narrower than a pixel.
MAX_SPAN = timedelta(days=732)
MAX_TYPES = 20
MAX_VALUE = 256
BUCKETS = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
# Types drawn in a colour of their own; the rest share one ("other types").
SERIES_MAX = 8
OTHER = "other types"
CHART_WIDTH, CHART_HEIGHT = 600, 140


class FilterInvalid(ValueError):
    """An explorer argument that cannot be read: `field` names it, the message says why."""

    def __init__(self, field, message):
        super().__init__(message)
        self.field = field
        self.message = message


def _text(args, name):
    value = (args.get(name) or "").strip()
    if len(value) > MAX_VALUE:
        raise FilterInvalid(name, f"{name} is longer than {MAX_VALUE} characters.")
    return value


def parse_time(text, field):
    """A UTC instant from a form's datetime-local value (read as UTC) or an ISO 8601 time."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise FilterInvalid(field, f"{field} {text[:40]!r} is not a time: use "
                                   "YYYY-MM-DDTHH:MM (UTC).") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise FilterInvalid(field, f"{field} {text[:40]!r} is outside the calendar.") from None


def explorer_query(args, now=None):
    """The explorer's query from a page's arguments: filters, time range and chart bucket."""
    now = now or utcnow()
    types = [t.strip() for t in _text(args, "type").split(",") if t.strip()]
    if len(types) > MAX_TYPES:
        raise FilterInvalid("type", f"Name at most {MAX_TYPES} event types.")
    query = {"types": list(dict.fromkeys(types)), "user": _text(args, "user"),
             "app": _text(args, "app"), "event": _text(args, "event"),
             "from": _text(args, "from"), "to": _text(args, "to")}
    preset = _text(args, "range") or (CUSTOM if query["from"] or query["to"] else DEFAULT_RANGE)
    if preset == CUSTOM:
        until = parse_time(query["to"], "to") if query["to"] else now
        since = parse_time(query["from"], "from") if query["from"] else until - timedelta(days=1)
        if since >= until:
            raise FilterInvalid("from", "from must be before to.")
        if until - since > MAX_SPAN:
            raise FilterInvalid("from", f"A range spans at most {MAX_SPAN.days} days.")
        query.update(since=since, until=until, end=until)
    elif preset in PRESETS:
        query.update(since=now - PRESETS[preset][1], until=None, end=now, **{"from": "", "to": ""})
    else:
        raise FilterInvalid("range", f"range {preset[:40]!r} is none of "
                                     f"{', '.join([*PRESETS, CUSTOM])}.")
    query["range"] = preset
    query["bucket"] = "hour" if query["end"] - query["since"] <= HOURLY_UP_TO else "day"
    return query


def event_filters(query):
    """The events port's filter for an explorer query."""
    filters = {"since": query["since"]}
    if query["until"] is not None:
        filters["until"] = query["until"]
    if query["app"]:
        filters["appId"] = query["app"]
    if query["user"]:
        filters["userIds"] = [query["user"]]
    if query["types"]:
        filters["eventTypes"] = list(query["types"])
    if query["event"]:
        filters["eventId"] = query["event"]
    return filters


def explorer_args(query):
    """The query arguments that reproduce an explorer query (links, pages, the chart)."""
    args = {"range": query["range"]}
    if query["range"] == CUSTOM:
        args["from"] = f"{query['since']:%Y-%m-%dT%H:%M:%S}"
        args["to"] = f"{query['until']:%Y-%m-%dT%H:%M:%S}"
    for name in ("user", "app", "event"):
        if query[name]:
            args[name] = query[name]
    if query["types"]:
        args["type"] = ",".join(query["types"])
    return args


def describe_range(query):
    """The time range in words."""
    if query["range"] in PRESETS:
        return PRESETS[query["range"]][0]
    return f"{query['since']:%Y-%m-%d %H:%M}Z to {query['until']:%Y-%m-%d %H:%M}Z"


def floor(value, bucket):
    """The start of the hour or UTC day holding `value`."""
    value = value.astimezone(UTC)
    if bucket == "day":
        return value.replace(hour=0, minute=0, second=0, microsecond=0)
    return value.replace(minute=0, second=0, microsecond=0)


def bucket_label(start, bucket):
    """A bucket's start as people read it."""
    return f"{start:%Y-%m-%d}" if bucket == "day" else f"{start:%m-%d %H:00}Z"


def stacked_chart(rows, since, end, bucket):
    """SVG geometry of counts per bucket stacked by event type, from the port's histogram rows
    [(bucket start, eventType, count)], over the buckets from `since` to `end`.

    The SERIES_MAX most frequent types (ties by name) get a series each, the others one
    together. Buckets outside the span (an event dated ahead) widen it rather than vanish.
    """
    step = BUCKETS[bucket]
    counts, totals = {}, {}
    for start, event_type, count in rows:
        start = floor(start, bucket)
        counts.setdefault(start, {})
        counts[start][event_type] = counts[start].get(event_type, 0) + count
        totals[event_type] = totals.get(event_type, 0) + count
    ranked = sorted(totals, key=lambda t: (-totals[t], t))
    named = ranked[:SERIES_MAX] if len(ranked) <= SERIES_MAX else ranked[:SERIES_MAX - 1]
    series = {t: n for n, t in enumerate(named)}
    first = min([floor(since, bucket), *counts])
    last = max([floor(end, bucket), *counts])
    starts = []
    at = first
    while at <= last:
        starts.append(at)
        at += step
    peak = max([sum(c.values()) for c in counts.values()] + [1])
    slot = CHART_WIDTH / len(starts)
    gap = 1 if slot > 4 else 0
    bars = []
    for n, start in enumerate(starts):
        by_type = counts.get(start, {})
        parts = [(t, by_type[t]) for t in named if by_type.get(t)]
        other = sum(c for t, c in by_type.items() if t not in series)
        if other:
            parts.append((OTHER, other))
        y = CHART_HEIGHT
        segments = []
        for event_type, count in parts:
            height = count / peak * CHART_HEIGHT
            y -= height
            segments.append({"type": event_type, "count": count, "y": round(y, 2),
                             "h": round(height, 2),
                             "series": series.get(event_type, SERIES_MAX)})
        bars.append({"start": start, "label": bucket_label(start, bucket),
                     "x": round(n * slot + gap / 2, 2), "w": round(max(slot - gap, 0.5), 2),
                     "total": sum(by_type.values()), "segments": segments})
    legend = [{"type": t, "series": series[t], "count": totals[t]} for t in named]
    rest = sum(totals[t] for t in ranked if t not in series)
    if rest:
        legend.append({"type": OTHER, "series": SERIES_MAX, "count": rest,
                       "types": [t for t in ranked if t not in series]})
    return {"bars": bars, "legend": legend, "peak": peak, "total": sum(totals.values()),
            "bucket": bucket, "width": CHART_WIDTH, "height": CHART_HEIGHT,
            "ticks": [bars[0]["label"], bars[len(bars) // 2]["label"], bars[-1]["label"]]}


def skew(event):
    """How far the client's clock was from the server's when it sent the event, in words
    (from the sentAt it gave), or None without one."""
    ms = (event.get("metadata") or {}).get("skewMs")
    if not isinstance(ms, int | float) or isinstance(ms, bool):
        return None
    if abs(ms) < 1000:
        return f"{ms:+.0f} ms (clocks agree)" if ms else "0 ms (clocks agree)"
    seconds = abs(ms) / 1000
    amount = f"{seconds:,.1f} s" if seconds < 120 else f"{seconds / 60:,.1f} min"
    return f"{ms:+,} ms: the client's clock was {amount} {'ahead' if ms > 0 else 'behind'}"


class CursorInvalid(ValueError):
    """A page cursor the explorer did not hand out."""


def explore(store, query, before=None, limit=None):
    """One page of the matching events, newest first, the next page's cursor, and the chart."""
    from .filters import PAGE_SIZE

    limit = limit or PAGE_SIZE
    filters = event_filters(query)
    try:
        rows = store.event_page(filters, before=before, limit=limit + 1)
    except ValueError:
        raise CursorInvalid(before) from None
    more = len(rows) > limit
    rows = rows[:limit]
    histogram = store.event_histogram(filters, query["bucket"])
    return {"rows": rows, "cursor": rows[-1]["key"] if more and rows else None,
            "chart": stacked_chart(histogram, query["since"], query["end"], query["bucket"]),
            "range": describe_range(query)}


def event_view(store, app_id, event_id):
    """An event with its queue item and batch log, its times and skew; None when unknown."""
    found = store.event_detail(app_id, event_id)
    if found is None:
        return None
    metadata = found.get("metadata") or {}
    times = [
        ("Client time", "when the client says it happened, by its own clock",
         metadata.get("clientTimestamp")),
        ("Sent at", "when the client sent its batch, by its own clock", metadata.get("sentAt")),
        ("Received at", "when the server received it", metadata.get("receivedAt")),
        ("Event time", "the client time corrected for its clock's skew, which pages sort by",
         found.get("timestamp")),
        ("Stored at", "when the sync engine applied it", found.get("createdAt")),
    ]
    return {"event": found, "times": [(label, hint, as_time(v)) for label, hint, v in times],
            "skew": skew(found), "clamped": bool(metadata.get("clamped")),
            "queue_item": found.get("queueItem"), "batch_log": found.get("batchLog")}


def as_time(value):
    """A stored time (a datetime or ISO 8601 text) as a datetime; text that is not a time as
    itself, None as None."""
    if value is None or isinstance(value, datetime):
        return value
    try:
        return parse_time(str(value), "time")
    except FilterInvalid:
        return str(value)
