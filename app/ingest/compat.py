"""Compatible ingest: messages of other tracking protocols (Segment, PostHog), once each protocol's
adapter has turned them into native items, stored through the native batch path.

The native path is the only one: the same validators, the same exactly-once rules, the same
queue and fast path. What differs is written here once for every protocol: the protocols' own
limits (their libraries send far larger batches and messages than the native API takes), the
protocol named in each item's `metadata.source` and in the batch log's `source`, and the
answer to a batch whose every message is invalid: a native batch like it is refused as a whole
and changes nothing, while the protocols' libraries drop a refused batch without telling anyone,
so here it is logged with each message's reason (the console's errors and /metrics show it).
"""

import hashlib
import json
from dataclasses import replace

import orjson

from .service import ingest_batch
from .validate import IngestRules

PROTOCOLS = ("segment", "posthog")
# The first path segment of every compatible endpoint: the body layer gives these paths
# COMPAT_MAX_CONTENT_LENGTH instead of MAX_CONTENT_LENGTH (app/http.py reads it).
COMPAT_PATH_SEGMENTS = frozenset({"v1", "batch", "capture", "e", "i", "track", "engage", "s"})


def is_compat_path(path):
    """Whether a request path is one of the compatible endpoints (by its first segment)."""
    return path.lstrip("/").split("/", 1)[0] in COMPAT_PATH_SEGMENTS


def compat_rules(settings):
    """The ingest rules of the compatible endpoints: the native ones with the protocols' item
    limit, keys the store refuses escaped (their properties use `$` and `.` freely), and the
    verbs always verbs (LEGACY_RECORD_TYPE_APPS is about the native API's record types)."""
    return replace(IngestRules.from_settings(settings),
                   max_item_bytes=int(settings["COMPAT_MAX_ITEM_BYTES"]), escape_keys=True,
                   legacy_record_type_apps=frozenset())


def messages_batch_id(protocol, messages):
    """A batchId for a request that names none: a hash of its messages (JSON values), so that a
    library's retry of a request it never heard back from (with a new `sentAt`, say) is
    answered as the first one was, and a message without an id gets the same derived eventId
    every time. Give it what is stable across a library's retries."""
    try:
        text = orjson.dumps(messages, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # an integer past 64 bits, which orjson does not write (its item is refused)
        text = json.dumps(messages, sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False).encode("utf-8", "surrogatepass")
    return f"{protocol}-{hashlib.blake2b(text, digest_size=16).hexdigest()}"


def with_source(item, protocol):
    """The item, the adapter's own, with `metadata.source` naming its protocol (a metadata
    that is not an object is left for the validator to refuse)."""
    metadata = item.get("metadata")
    if metadata is None:
        item["metadata"] = {"source": protocol}
    elif isinstance(metadata, dict):
        metadata["source"] = protocol
    return item


def ingest_messages(store, settings, app_id, items, *, protocol, batch_id, sent_at=None):
    """Store a compatible request's messages, each turned into a native item, as one batch.

    `items` are the adapter's own dicts (their metadata gets `source`; keys the store refuses
    are escaped). Valid items are kept and the others are logged with their reasons, even when
    none is valid.
    Returns the native batch summary {batchId, accepted, duplicates, rejected, results}. Raises
    IngestError (413 too_many_items past COMPAT_MAX_BATCH_ITEMS; 429 for a full backlog comes as
    BacklogFull) like the native path.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}")
    batch = {"batchId": batch_id, "items": [with_source(item, protocol) if isinstance(item, dict)
                                            else item for item in items]}
    if sent_at is not None:
        batch["sentAt"] = sent_at
    return ingest_batch(store, settings, app_id, batch, compat_rules(settings), protocol=protocol)
