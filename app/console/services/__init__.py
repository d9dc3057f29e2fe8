"""Console services: what the pages show and what operators do, with plain arguments.

One module per job: filters (query arguments), charts (SVG geometry), dashboard, queue (pages,
counts, search), batches, conflicts, actions (retry and discard), syncing ("Sync now"), explorer
(the events page), people (profile, timeline, export, deletion) and links (which URL form an id
takes). The views import this package; the names below are what they use.
"""

from .actions import ACTIONABLE_STATES, actionable, bulk, discard_item, retry_item
from .batches import BATCH_WINDOW, batch_cursor, batch_list
from .charts import CHART_HEIGHT, CHART_MINUTES, CHART_WIDTH, chart
from .conflicts import (
    MISSING,
    MergeInvalid,
    conflict_list,
    conflict_view,
    merged_from_choices,
    parse_merge,
    resolve,
    suggested_merge,
)
from .dashboard import dashboard
from .explorer import (
    PRESETS,
    CursorInvalid,
    FilterInvalid,
    event_view,
    explore,
    explorer_args,
    explorer_query,
    stacked_chart,
)
from .filters import ERROR_STATES, PAGE_SIZE, describe, filter_args, page, queue_filters
from .links import path_safe, person_endpoint
from .people import (
    TimelineCursorInvalid,
    delete_person,
    deletion_status,
    export_chunks,
    person_apps,
    person_view,
)
from .queue import count_queue, queue_list, queue_rows, search
from .syncing import record_sync, start_sync, sync_run

__all__ = [
    "ACTIONABLE_STATES", "BATCH_WINDOW", "CHART_HEIGHT", "CHART_MINUTES", "CHART_WIDTH",
    "ERROR_STATES", "MISSING", "PAGE_SIZE", "PRESETS", "CursorInvalid", "FilterInvalid",
    "MergeInvalid", "actionable", "batch_cursor", "batch_list", "bulk", "chart",
    "conflict_list", "conflict_view", "count_queue", "dashboard", "describe", "discard_item",
    "event_view", "explore", "explorer_args", "explorer_query", "filter_args",
    "merged_from_choices", "page", "parse_merge", "path_safe", "person_endpoint",
    "TimelineCursorInvalid", "delete_person", "deletion_status", "export_chunks", "person_apps",
    "person_view",
    "queue_filters", "queue_list", "queue_rows", "record_sync", "resolve", "retry_item",
    "search", "stacked_chart", "start_sync", "suggested_merge", "sync_run",
]
