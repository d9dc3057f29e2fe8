"""The queue as operators see it: filtered pages, counts and the one search box.

The store answers one status at a time, newest first (a store's ids sort in the order its rows
were made); a page over several states is those answers merged and cut here. A search looks
for the term as an itemId (an event's eventId), a batchId or a userId, in every app: with the
apps named, each look-up uses a per-app index instead of scanning the queue.
"""

import heapq

from .filters import PAGE_SIZE, page

# The filters that name one value of an item's field, as the store matches them.
MATCH_KEYS = ("appId", "itemType", "userId")
SEARCH_FIELDS = ("itemId", "batchId", "userId")
SEARCH_MAX = 200


def row_id(row):
    """A queue row's store id: the cursor of the page after it, and its sort key (ids sort in
    the order rows were made, so newest first is reversed)."""
    return row["id"]


def match(filters):
    """The field values a filter asks for ({field: value}), without its states."""
    return {key: filters[key] for key in MATCH_KEYS if filters.get(key)}


def queue_rows(store, filters, before=None, limit=PAGE_SIZE):
    """Queue items (no payloads) matching the filters, newest first, ids below `before`."""
    fields = match(filters)
    # A user's items across apps: naming every app lets the per-app (appId, userId) indexes
    # answer.
    app_ids = store.queue_app_ids() if "userId" in fields and "appId" not in fields else None
    pages = [store.queue_page(fields, status, app_ids, before, limit)
             for status in filters.get("statuses") or [None]]
    if len(pages) == 1:
        return pages[0]
    return list(heapq.merge(*pages, key=row_id, reverse=True))[:limit]


def search(store, term, limit=PAGE_SIZE):
    """Items whose itemId (eventId for events), batchId or userId is `term`, newest first."""
    app_ids = store.queue_app_ids()
    if not app_ids:
        return []
    found = {}
    for field in SEARCH_FIELDS:
        for row in store.queue_page({field: term}, None, app_ids, None, limit):
            found.setdefault(row["id"], row)
    return sorted(found.values(), key=row_id, reverse=True)[:limit]


def queue_list(store, filters, query=None, before=None):
    """A queue page without payloads: (rows, next cursor); a search ignores the filters.

    `before` is the store id of the last row already shown (see `web.page_cursor`)."""
    if query:
        return search(store, query.strip()[:SEARCH_MAX]), None
    rows = queue_rows(store, filters, before=before, limit=PAGE_SIZE + 1)
    return page(rows, PAGE_SIZE, row_id)


def count_queue(store, filters):
    """How many queue items match the filters."""
    return store.count_queue(match(filters), filters.get("statuses") or None)
