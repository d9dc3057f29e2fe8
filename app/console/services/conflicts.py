"""Conflicts as operators resolve them: side by side per field, and an edited merge."""

import json
import math

from ...store.common import INT64_MAX
from ...sync.conflicts import get_conflict, resolve_conflict
from .filters import PAGE_SIZE, page


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
