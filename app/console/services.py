"""Console services: what the pages show and what operators do, with plain arguments."""

import json
import logging
import math
from datetime import UTC, datetime, timedelta

from ..accounts import audit
from ..store.common import INT64_MAX, QUEUE_STATES, utcnow
from ..sync import runs
from ..sync.conflicts import get_conflict, resolve_conflict
from ..sync.scheduling import start_in_background

log = logging.getLogger("prepmate.console")

PAGE_SIZE = 50
ERROR_STATES = ("failed", "dead")
CHART_MINUTES = 60
CHART_WIDTH, CHART_HEIGHT = 600, 120
BATCH_WINDOW = timedelta(hours=24)


# ---- filters -------------------------------------------------------------------------------

def queue_filters(args, allowed_states=QUEUE_STATES):
    """The store filters a page's query arguments (status, type, user, app) ask for."""
    status = (args.get("status") or "").strip()
    statuses = [status] if status in allowed_states else None
    if allowed_states != QUEUE_STATES and statuses is None:
        statuses = list(allowed_states)
    filters = {"statuses": statuses}
    for key, arg in (("itemType", "type"), ("userId", "user"), ("appId", "app")):
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
    for key, arg in (("itemType", "type"), ("userId", "user"), ("appId", "app")):
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


# ---- reads ---------------------------------------------------------------------------------

def dashboard(store, settings, scheduler):
    """Counts by state, sync times, the scheduler's state (a SchedulerState) and the last
    hour's chart."""
    counts = store.console_queue_counts()
    last = store.last_sync_run()
    conflicts = store.conflict_counts()
    return {
        "counts": counts,
        "total": sum(counts.values()),
        "openConflicts": conflicts.get("open", 0),
        "lastRun": last,
        "nextSyncTime": scheduler.next_run_time,
        "schedulerRunning": scheduler.running,
        "intervalMinutes": float(settings["SYNC_INTERVAL_MINUTES"]),
        "chart": chart(store.sync_minutes(utcnow() - timedelta(minutes=CHART_MINUTES))),
    }


def chart(minutes, now=None):
    """SVG geometry for items processed and failed per minute over the last hour."""
    now = now or utcnow()
    end = int(now.timestamp()) // 60 * 60
    start = end - (CHART_MINUTES - 1) * 60
    by_minute = {t: (p, f) for t, p, f in minutes}
    peak = max([p for _t, p, _f in minutes] + [1])
    slot = CHART_WIDTH / CHART_MINUTES
    bars = []
    for n in range(CHART_MINUTES):
        t = start + n * 60
        processed, failed = by_minute.get(t, (0, 0))
        h_all = round(processed / peak * CHART_HEIGHT, 1)
        h_failed = round(min(failed, processed or failed) / peak * CHART_HEIGHT, 1)
        bars.append({"x": round(n * slot + 1, 1), "w": round(slot - 2, 1), "t": t,
                     "processed": processed, "failed": failed,
                     "yAll": round(CHART_HEIGHT - h_all, 1), "hAll": h_all,
                     "yFailed": round(CHART_HEIGHT - h_failed, 1), "hFailed": h_failed})
    return {"bars": bars, "peak": peak, "width": CHART_WIDTH, "height": CHART_HEIGHT,
            "processed": sum(b["processed"] for b in bars),
            "failed": sum(b["failed"] for b in bars)}


def queue_list(store, filters, query=None, before=None):
    """A queue page without payloads: (rows, next cursor); a search ignores the filters.

    `before` is the store id of the last row already shown (see `web.page_cursor`)."""
    if query:
        return store.search_queue(query.strip()[:200], limit=PAGE_SIZE), None
    rows = store.queue_page(filters, before_id=before, limit=PAGE_SIZE + 1)
    return page(rows, PAGE_SIZE, lambda r: r["id"])


def batch_list(store, source=None, statuses=None, before=None, window=BATCH_WINDOW):
    """Batch logs of the window (24 h by default), newest first: (rows, next cursor).

    `before` is the (startTime, id) of the last row already shown (see `batch_cursor`)."""
    rows = store.batch_page(utcnow() - window, source=source or None, statuses=statuses,
                            before=before, limit=PAGE_SIZE + 1)
    return page(rows, PAGE_SIZE, lambda r: f"{r['startTime'].timestamp()!r}:{r['id']}")


def batch_cursor(store, text):
    """The (startTime, id) a batch page's cursor "<epoch seconds>:<id>" names, or None."""
    at, _, key = text.partition(":")
    key = store.parse_id(key)
    try:
        # inf, nan and times outside years 1-9999 name no batch.
        return (datetime.fromtimestamp(float(at), UTC), key) if key is not None else None
    except (ValueError, OverflowError, OSError):
        return None


def conflict_list(store, status="open", before=None):
    """Conflicts without their values, newest first: (rows, next cursor)."""
    rows = store.list_conflicts(status=status or None, before_id=before,
                                limit=PAGE_SIZE + 1, values=False)
    return page(rows, PAGE_SIZE, lambda r: r["id"])


def conflict_view(store, conflict_id):
    """A conflict with one row per field: base, server and client values, what differs."""
    conflict = get_conflict(store, None, conflict_id)
    if conflict is None:
        return None
    base, server, client = (conflict.get(k) for k in ("base", "server", "client"))
    if conflict.get("kind") == "event":
        # An event's merge is its eventData (the sync engine keeps the rest of the client's).
        base, server, client = None, (server or {}).get("eventData"), (client or {}).get(
            "eventData")
    rows = []
    if all(isinstance(v, dict | None) for v in (base, server, client)):
        names = []
        for side in (base or {}, server or {}, client or {}):
            names.extend(n for n in side if n not in names)
        for name in names:
            values = [(side or {}).get(name, MISSING) for side in (base, server, client)]
            rows.append({
                "name": name, "base": values[0], "server": values[1], "client": values[2],
                "differs": values[1] != values[2],
                "serverChanged": values[1] != values[0], "clientChanged": values[2] != values[0],
            })
    return {"conflict": conflict, "rows": rows, "perField": bool(rows), "server": server}


class _Missing:
    """A field absent from one side."""

    def __repr__(self):
        return "(absent)"


MISSING = _Missing()


def merged_from_choices(view, choices):
    """The merged value built from per-field choices {field: "server"|"client"}.

    A field left unchosen takes the side that changed it (the server when both did).
    """
    merged = {}
    for row in view["rows"]:
        side = choices.get(row["name"])
        if side not in ("server", "client"):
            side = "client" if row["clientChanged"] and not row["serverChanged"] else "server"
        value = row[side]
        if value is not MISSING:
            merged[row["name"]] = value
    return merged


def suggested_merge(view):
    """The merge shown in the editor: one-sided changes taken, the server's where both changed."""
    return merged_from_choices(view, {}) if view["perField"] else view["server"]


class MergeInvalid(ValueError):
    """An edited merge that cannot apply; the message says why."""


def _json_float(text):
    value = float(text)
    if not math.isfinite(value):
        raise MergeInvalid(f"{text} is beyond the numbers JSON can carry.")
    return value


def _json_int(text):
    value = int(text) if len(text) <= 20 else None  # (Python refuses 4,300 digits and more)
    if value is None or abs(value) > INT64_MAX:
        raise MergeInvalid(f"{text} is beyond the 64-bit integers a store holds.")
    return value


def _json_constant(name):
    raise MergeInvalid(f"{name} is not JSON.")


def parse_merge(text):
    """The JSON object an operator typed, or MergeInvalid: as strict as the API's reading (no
    NaN, Infinity, lone surrogates or numbers no store holds)."""
    try:
        value = json.loads(text or "", parse_float=_json_float, parse_int=_json_int,
                           parse_constant=_json_constant)
    except MergeInvalid:
        raise
    except RecursionError:
        raise MergeInvalid("That JSON is nested too deeply.") from None
    except ValueError as exc:
        raise MergeInvalid(f"That is not valid JSON: {exc}.") from None
    try:
        json.dumps(value, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise MergeInvalid("That JSON holds a lone surrogate (\\ud800-\\udfff), which is "
                           "not text.") from None
    if not isinstance(value, dict):
        raise MergeInvalid("The merge must be a JSON object.")
    return value


def resolve(store, settings, conflict_id, resolution, actor, data=None):
    """Resolve a conflict (the sync engine applies and audits it); ConflictError when refused."""
    return resolve_conflict(store, settings, None, conflict_id, resolution, data=data,
                            actor=actor)



# ---- actions -------------------------------------------------------------------------------

def retry_item(store, item, actor):
    """Put one failed or dead item back to pending; True when it was."""
    done = store.retry_queue_items(utcnow(), ids=[item["id"]]) == 1
    if done:
        audit.record(store, actor, "queue.retry", f"item:{item['itemId']}",
                     appId=item["appId"], previousStatus=item["status"])
    return done


def discard_item(store, item, actor):
    """Delete one failed or dead item from the queue; True when it was."""
    done = store.discard_queue_items(ids=[item["id"]]) == 1
    if done:
        audit.record(store, actor, "queue.discard", f"item:{item['itemId']}",
                     appId=item["appId"], previousStatus=item["status"],
                     lastError=item.get("lastError"))
    return done


def bulk(store, action, filters, actor, expected=None):
    """Retry or discard every failed/dead item matching the filters; returns how many."""
    if action == "retry":
        count = store.retry_queue_items(utcnow(), filters=filters)
    else:
        count = store.discard_queue_items(filters=filters)
    audit.record(store, actor, f"queue.bulk_{action}", describe(filters), count=count,
                 confirmedCount=expected)
    return count


# ---- sync now ------------------------------------------------------------------------------

def start_sync(app, actor):
    """Start a sync run in the background, audited when it has ended.

    Returns (the run's id, True), or (the id of the run already going, False); that id is None
    when the other run has just ended.
    """
    def audited(run):
        record_sync(run.store, actor, sync_run(run.store, run.run_id))

    run, holder = start_in_background(app, "manual", requested_by=f"console:{actor}",
                                      on_done=audited)
    return (run.run_id, True) if run is not None else (holder, False)


def sync_run(store, run_id):
    """A sync run as operators see it (every app's counts), or None."""
    return runs.view(store, run_id)


def record_sync(store, actor, run):
    """Audit a console sync with its totals."""
    summary = run["summary"]
    audit.record(store, actor, "sync.run", f"sync-run:{run['runId']}", status=summary["status"],
                 batches=len(summary["batches"]), seconds=summary["seconds"],
                 **{key: summary[key] for key in runs.COUNT_KEYS})
