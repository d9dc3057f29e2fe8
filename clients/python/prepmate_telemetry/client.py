"""TelemetryClient: capture events, identity calls and record changes, send them in batches
from a thread.

Who the items speak for is kept beside the queue, so it survives a restart: a random anonymous
id (made once per queue file), the user named by identify() until reset(), the properties
register() adds to every event, and the opt-out. An item of a known user carries its userId; one
made before any user is known carries the anonymous id, and identify() names both, which is how
the server gives the anonymous history to the user.
"""

from __future__ import annotations

import atexit
import copy
import email.utils
import gzip
import hashlib
import json
import logging
import os
import random
import re
import threading
import time
import uuid
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime

import requests

from . import _uuid
from ._uuid import uuid7
from .context import automatic_context
from .queue import META_OPTED_OUT, DiskQueue

logger = logging.getLogger("prepmate_telemetry")

BATCH_PATH = "/api/telemetry/batch"
RECORDS_PATH = "/api/telemetry/records"
DEFAULT_BATCH_SIZE = 100
DEFAULT_MAX_QUEUE = 10_000
# An item waits at most this long (seconds) for others to share its request, unless a whole batch
# is waiting or flush() is called.
DEFAULT_FLUSH_INTERVAL = 1.0
DEFAULT_TIMEOUT = 15.0
DEFAULT_EXIT_TIMEOUT = 5.0
# The server's limits: 32 KB per item, 1 MB per request, 1000 items per batch.
MAX_ITEM_BYTES = 32 * 1024
MAX_BATCH_BYTES = 512 * 1024
MAX_BATCH_ITEMS = 1000
BACKOFF_BASE = 0.5
BACKOFF_MAX = 60.0
LEASE_SECONDS = 60.0
# After a 401 or 403 the items stay on disk and sending pauses this long.
AUTH_RETRY_SECONDS = 300.0
MAX_PULL_PAGES = 100
# Each request sends an id of its own, which the server logs and answers back: an error (even a
# timeout, which has no answer) names it, so the server's log lines of that request can be found.
REQUEST_ID_HEADER = "X-Request-ID"
RETRYABLE_STATUSES = frozenset({408, 429})
PRIORITIES = {"low": -1, "normal": 0, "high": 1}
# Request bodies are gzipped (Content-Encoding: gzip) at this level: most of the gain of 9 for
# a fraction of its time.
GZIP_LEVEL = 6
# What the queue file keeps beside the items (its meta table).
META_ANONYMOUS_ID = "anonymousId"
META_USER_ID = "userId"
META_PROPERTIES = "properties"
# metadata.clientTimestamp as every reader of it accepts it (RFC 3339, SPEC §10).
CLIENT_TIME_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,6})?(?:Z|[+-](\d{2}):(\d{2}))"
)

_clients: weakref.WeakSet = weakref.WeakSet()
_hooks_installed = False
_hooks_lock = threading.Lock()
# Connections a forked child inherited: closing them in the child could disturb the parent.
_inherited: list = []


class TelemetryError(Exception):
    """An answer the client could not use: status, error code and field errors when known, and
    the id of the request (as the server's logs name it)."""

    def __init__(self, message, *, status=None, code=None, fields=None, retry_after=None,
                 request_id=None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.fields = fields or {}
        self.retry_after = retry_after
        self.request_id = request_id

    def __str__(self) -> str:
        return self.message if self.request_id is None else (
            f"{self.message} (request {self.request_id})")

    @property
    def retryable(self) -> bool:
        """Network errors, 5xx, 408 and 429 are worth retrying; other answers are not."""
        return self.status is None or self.status >= 500 or self.status in RETRYABLE_STATUSES


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_retry_after(value) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - time.time()
    return min(max(seconds, 0.0), BACKOFF_MAX)


def backoff_delay(attempt: int) -> float:
    """Exponential backoff with equal jitter: half fixed, half random."""
    cap = min(BACKOFF_MAX, BACKOFF_BASE * (2 ** max(attempt - 1, 0)))
    return cap / 2 + random.uniform(0, cap / 2)


@dataclass(frozen=True)
class FlushResult:
    """What flush() achieved: true (`delivered`) when nothing is left to send.

    `pending` counts every item still on disk; `held`, the tracking items among them that the
    opt-out holds (0 while opted in). They are not undelivered: they are not to be sent, so
    while opted out `delivered` is true once every record edit was delivered (pending == held).
    `suppressed` counts the items the server answered `suppressed` while this call waited: their
    person asked to be forgotten, so they left the queue unstored (a final answer).
    """

    delivered: bool
    pending: int
    held: int = 0
    suppressed: int = 0

    def __bool__(self) -> bool:
        return self.delivered


def timestamp_problem(value) -> str | None:
    """Why the server would refuse this metadata.clientTimestamp, or None when it takes it."""
    match = CLIENT_TIME_RE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return "Not an ISO 8601 time with an offset, e.g. 2026-01-31T12:00:00Z."
    try:
        datetime(*(int(part) for part in match.groups()[:6]))
    except ValueError:
        return "Not a date and time of the calendar."
    if int(match.group(7) or 0) > 23 or int(match.group(8) or 0) > 59:
        return "Not a valid UTC offset."
    try:
        datetime.fromisoformat(value).astimezone(UTC)
    except OverflowError:
        return ("Must lie within 0001-01-01T00:00:00Z..9999-12-31T23:59:59.999999Z once "
                "converted to UTC.")
    return None


def _new_anonymous_id() -> str:
    # Random, not time-ordered: it names a person, and should not tell when they first came.
    return str(uuid.uuid4())


def _check_id(name, value) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string")
    return value


def _cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "prepmate-telemetry")


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def default_queue_path(endpoint: str, queue_name: str | None = None) -> str:
    """The queue file of an endpoint (and queue name) under the user's cache directory.

    The name is a hash: the file name tells neither the endpoint nor the name.
    """
    digest = _digest("queue", endpoint, queue_name or "")[:24]
    return os.path.join(_cache_dir(), f"queue-{digest}.sqlite3")


def legacy_queue_path(endpoint: str, api_key: str) -> str:
    """Where releases before 0.2 kept the queue: one file per endpoint and key."""
    return os.path.join(_cache_dir(), f"queue-{_digest(endpoint, api_key)[:16]}.sqlite3")


def _install_process_hooks() -> None:
    global _hooks_installed
    with _hooks_lock:
        if _hooks_installed:
            return
        _hooks_installed = True
    atexit.register(_shutdown_all)
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork_in_child)


def _shutdown_all() -> None:
    for client in list(_clients):
        try:
            client.shutdown(timeout=client.exit_timeout)
        except Exception:
            logger.exception("telemetry shutdown at exit failed")


def _after_fork_in_child() -> None:
    _uuid._after_fork_in_child()
    for client in list(_clients):
        client._reset_after_fork()


class TelemetryClient:
    """Queues events and record changes on disk and sends them from a background thread."""

    def __init__(
        self,
        endpoint,
        api_key,
        user_id=None,
        queue_path=None,
        queue_name=None,
        previous_api_keys=(),
        batch_size=DEFAULT_BATCH_SIZE,
        max_queue=DEFAULT_MAX_QUEUE,
        flush_interval=DEFAULT_FLUSH_INTERVAL,
        timeout=DEFAULT_TIMEOUT,
        client_id=None,
        exit_timeout=DEFAULT_EXIT_TIMEOUT,
        send=True,
        before_send=None,
        gzip=True,
        auto_context=True,
    ):
        if not endpoint:
            raise ValueError("endpoint is required")
        if not 1 <= batch_size <= MAX_BATCH_ITEMS:
            raise ValueError(f"batch_size must be between 1 and {MAX_BATCH_ITEMS}")
        self.endpoint = endpoint.rstrip("/")
        self.api_key = api_key
        self.user_id = user_id
        # The queue belongs to the endpoint (and queue name), not to the key: what was queued
        # under a key that was fixed or rotated goes out with the current one.
        self.queue_path = queue_path or default_queue_path(self.endpoint, queue_name)
        self.batch_size = batch_size
        self.max_queue = max_queue
        self.flush_interval = flush_interval
        self.timeout = timeout
        self.client_id = client_id
        self.exit_timeout = exit_timeout
        self.send = send
        self.before_send = before_send
        self.gzip = gzip
        self._context = automatic_context() if auto_context else None
        self._handlers: dict[str, list] = {}
        self._closed = False
        self._init_process_state()
        if isinstance(previous_api_keys, str):
            previous_api_keys = [previous_api_keys]
        self._adopt_legacy_queues([api_key or "", *previous_api_keys])
        self._load_identity(user_id)
        _install_process_hooks()
        _clients.add(self)

    # --- process state: everything here is made again in a forked child ---

    def _init_process_state(self) -> None:
        self._pid = os.getpid()
        self._owner = f"{self._pid}:{uuid7()}"
        self._state_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._progress = threading.Condition()
        self._queue = DiskQueue(self.queue_path)
        self._session = requests.Session()
        self._thread = None
        self._attempt = 0
        self._batch_limit = self.batch_size
        self._paused_until = 0.0
        # Batching: when the oldest waiting item was first seen, the last queue seq a batch
        # smaller than batch_size may carry now, and how many flush() calls want everything.
        self._window = None
        self._due_seq = None
        self._urgent = 0
        # Items the server answered `suppressed` (flush() reports those of its own wait), and
        # whether that was logged yet: once, as an erased person's app goes on capturing.
        self._suppressed = 0
        self._suppressed_logged = False

    def _adopt_legacy_queues(self, keys) -> None:
        """Takes over queue files that earlier releases kept per key, for these keys."""
        for key in dict.fromkeys(keys):
            path = legacy_queue_path(self.endpoint, key)
            same = os.path.abspath(path) == os.path.abspath(self.queue_path)
            if same or not os.path.exists(path):
                continue
            moved = self._queue.adopt(path)
            if moved:
                logger.info("telemetry: %s queued item(s) taken over from %s", moved, path)

    def _load_identity(self, user_id) -> None:
        """Who this client speaks for, as the queue file keeps it (a user_id given wins)."""
        queue = self._queue
        self._anonymous_id = queue.meta_default(META_ANONYMOUS_ID, _new_anonymous_id())
        self.user_id = user_id if user_id is not None else queue.get_meta(META_USER_ID)
        self._properties = queue.get_meta(META_PROPERTIES) or {}
        self._opted_out = bool(queue.get_meta(META_OPTED_OUT, False))

    def _reset_after_fork(self) -> None:
        if self._pid == os.getpid():
            return
        # Keep the parent's connection and session open but unused: closing them here could
        # disturb the parent's SQLite locks and sockets.
        _inherited.append((self._queue, self._session))
        if self._closed:
            self._pid = os.getpid()
            return
        self._init_process_state()
        logger.debug("telemetry client re-initialised in forked child %s", self._pid)

    def _ensure_ready(self) -> None:
        if self._pid != os.getpid():
            self._reset_after_fork()
        if self._closed:
            raise TelemetryError("client is shut down", code="shutdown")
        if self.send and (self._thread is None or not self._thread.is_alive()):
            with self._state_lock:
                if self._thread is None or not self._thread.is_alive():
                    self._stop.clear()
                    self._thread = threading.Thread(
                        target=self._run, name="prepmate-telemetry-sender", daemon=True
                    )
                    self._thread.start()

    # --- public API ---

    def on(self, event, fn):
        """Calls fn(payload) on 'sync:start', 'sync:complete', 'sync:error', 'queue:dropped'."""
        self._handlers.setdefault(event, []).append(fn)
        return fn

    def off(self, event, fn) -> None:
        """Stops calling fn for event."""
        handlers = self._handlers.get(event, [])
        if fn in handlers:
            handlers.remove(fn)

    def capture_event(self, event_type, data=None, user_id=None, *, metadata=None, priority=None):
        """Queues one event on disk and returns its eventId (a UUIDv7 made now), or None when
        nothing was queued (opted out, or dropped by before_send).

        A clientTimestamp in `metadata` is kept (e.g. for an import) when the server would take
        it, and refused here with TelemetryError(code="invalid_item") when it would not.
        """
        if not isinstance(event_type, str) or not event_type:
            raise ValueError("event_type must be a non-empty string")
        return self._track({
            "itemType": "event",
            "eventType": event_type,
            "eventData": self._with_properties(data),
        }, user_id, metadata, priority)

    def identify(self, user_id=None, traits=None, *, traits_once=None, metadata=None,
                 priority=None):
        """Names the user (later items go as this user, also after a restart, until reset())
        and sets their traits; returns the item's eventId, or None when nothing was queued.

        It carries the anonymous id too while no other user is identified, so the server gives
        the anonymous history to the user. `traits_once` are set only where the profile has no
        value yet. Without user_id it sets traits of the current user (or anonymous id).
        """
        if user_id is not None:
            _check_id("user_id", user_id)
        current = self.user_id
        target = user_id if user_id is not None else current
        item = {"itemType": "identify"}
        if target is not None:
            item["userId"] = target
        if current is None or current == target:
            item["anonymousId"] = self._anonymous_id
        if traits is not None:
            item["traits"] = dict(traits)
        if traits_once is not None:
            item["traitsOnce"] = dict(traits_once)
        event_id = self._track(item, target, metadata, priority, who=False)
        if target is not None and target != current:
            self.user_id = target
            self._queue.set_meta(META_USER_ID, target)
        return event_id

    def alias(self, user_id, previous_id=None, *, metadata=None, priority=None):
        """Says that previous_id (by default the current user, else the anonymous id) and
        user_id are one person; returns the item's eventId, or None when nothing was queued."""
        _check_id("user_id", user_id)
        if previous_id is None:
            previous_id = self.user_id if self.user_id is not None else self._anonymous_id
        _check_id("previous_id", previous_id)
        item = {"itemType": "alias", "userId": user_id, "previousId": previous_id}
        return self._track(item, user_id, metadata, priority, who=False)

    def group(self, group_id, traits=None, *, user_id=None, metadata=None, priority=None):
        """Puts the user (or anonymous id) in a group (a company, a team) with the group's
        traits; returns the item's eventId, or None when nothing was queued."""
        item = {"itemType": "group", "groupId": _check_id("group_id", group_id)}
        if traits is not None:
            item["traits"] = dict(traits)
        return self._track(item, user_id, metadata, priority)

    def page(self, name=None, properties=None, *, category=None, user_id=None, metadata=None,
             priority=None):
        """Records a page view, stored as the event `page_viewed` (the registered properties
        included); returns its eventId, or None when nothing was queued."""
        return self._view("page", name, properties, category, user_id, metadata, priority)

    def screen(self, name=None, properties=None, *, category=None, user_id=None, metadata=None,
               priority=None):
        """Records a screen view of an app, stored as the event `screen_viewed`."""
        return self._view("screen", name, properties, category, user_id, metadata, priority)

    def reset(self) -> None:
        """At sign-out: forgets the user and the registered properties and starts a new
        anonymous id. What was queued stays queued and goes out as who it was captured for."""
        self._ensure_ready()
        anonymous_id = _new_anonymous_id()
        self._queue.update_meta({META_ANONYMOUS_ID: anonymous_id, META_USER_ID: None,
                                 META_PROPERTIES: {}})
        self._anonymous_id = anonymous_id
        self.user_id = None
        self._properties = {}

    @property
    def anonymous_id(self) -> str:
        """The id items go under until identify(): random, kept in the queue file."""
        return self._anonymous_id

    def register(self, **properties) -> None:
        """Adds properties to every event and page/screen view from now on (an event's own
        data wins); they are kept in the queue file until unregister() or reset()."""
        self._ensure_ready()
        merged = {**self._properties, **properties}
        self._queue.set_meta(META_PROPERTIES, merged)
        self._properties = merged

    def unregister(self, *names) -> None:
        """Stops adding these registered properties."""
        self._ensure_ready()
        kept = {key: value for key, value in self._properties.items() if key not in names}
        self._queue.set_meta(META_PROPERTIES, kept)
        self._properties = kept

    @property
    def registered(self) -> dict:
        """The properties added to every event."""
        return dict(self._properties)

    def opt_out(self) -> None:
        """Stops tracking, also after a restart, until opt_in(): events and the verbs are not
        captured, and those queued before stay on disk, unsent. Record edits (save_record) are
        the user's data, not tracking: they are still queued and synced."""
        self._ensure_ready()
        self._queue.set_meta(META_OPTED_OUT, True)
        self._opted_out = True

    def opt_in(self) -> None:
        """Captures and sends tracking again (what waited on disk goes too)."""
        self._ensure_ready()
        self._queue.set_meta(META_OPTED_OUT, False)
        self._opted_out = False
        self._wake.set()

    @property
    def opted_out(self) -> bool:
        """True while tracking is neither captured nor sent."""
        return self._opted_out

    def save_record(
        self, record_type, record_id, data, user_id=None, *, conflict_resolution=None, priority=None
    ):
        """Queues a change to one record, based on the last version this client saw or wrote."""
        if not isinstance(record_type, str) or not record_type or record_type == "event":
            raise ValueError('record_type must be a non-empty string other than "event"')
        item_id = uuid7()
        item = {
            "itemType": record_type,
            "itemId": item_id,
            "recordId": str(record_id),
            "data": data if data is not None else {},
            "clientTimestamp": _now_iso(),
        }
        if conflict_resolution:
            item["conflictResolution"] = conflict_resolution
        self._enqueue(item_id, item, user_id, priority)
        return item_id

    def known_version(self, record_type, record_id) -> int:
        """The last version of a record this client saw or wrote (0 when none)."""
        self._ensure_ready()
        return self._queue.known_version(record_type, str(record_id))

    def pull_records(self, record_type, since=None):
        """Fetches records of one type changed on the server since the last pull."""
        self._ensure_ready()
        checkpoints = self._queue.get_meta("checkpoints", {})
        if since is None:
            since = checkpoints.get(record_type)
        pulled = []
        for _ in range(MAX_PULL_PAGES):
            params = {"recordType": record_type}
            if since not in (None, ""):
                params["since"] = since
            headers = self._headers()
            try:
                resp = self._session.get(
                    self.endpoint + RECORDS_PATH,
                    params=params,
                    headers=headers,
                    timeout=self.timeout,
                )
            except requests.RequestException as exc:
                raise TelemetryError(f"pull failed: {exc}",
                                     request_id=headers[REQUEST_ID_HEADER]) from exc
            body = self._json(resp)
            if resp.status_code != 200:
                raise self._error_from(resp, body)
            records = body.get("records") or []
            versions = {}
            for record in records:
                if "recordId" in record and "version" in record:
                    versions[str(record["recordId"])] = record["version"]
                    pulled.append(record)
            self._queue.set_versions(record_type, versions)
            nxt = body.get("nextSince")
            progressed = nxt not in (None, since)
            if progressed:
                since = nxt
            if not records or not progressed or body.get("hasMore") is False:
                break
        if since is not None:
            checkpoints[record_type] = since
            self._queue.set_meta("checkpoints", checkpoints)
        return pulled

    def queue_size(self) -> int:
        """Items on disk waiting for the server (in flight included)."""
        self._ensure_ready()
        return self._queue.count()

    def flush(self, timeout=None) -> FlushResult:
        """Sends everything queued now, and waits until the queue is empty or timeout (seconds)
        ran out. The result is true when everything was delivered; `pending` counts what is left.
        While opted out the tracking items on disk are held, not sent: `held` counts them, and
        the result is true once nothing else is left (every record edit delivered).
        """
        self._ensure_ready()
        if not self.send:
            pending, held = self._queue.counts()
            return FlushResult(pending == held, pending, held)
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._state_lock:
            self._urgent += 1
            suppressed_before = self._suppressed
        try:
            while True:
                pending, held = self._queue.counts()
                suppressed = self._suppressed - suppressed_before
                if pending == held:
                    return FlushResult(True, pending, held, suppressed)
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return FlushResult(False, pending, held, suppressed)
                self._wake.set()
                with self._progress:
                    self._progress.wait(0.2 if remaining is None else min(remaining, 0.2))
        finally:
            with self._state_lock:
                self._urgent -= 1

    def shutdown(self, timeout=DEFAULT_EXIT_TIMEOUT) -> bool:
        """Sends what it can within timeout, then stops; what is left stays on disk."""
        if self._closed:
            return True
        if self._pid != os.getpid():
            self._reset_after_fork()
        flushed = True
        if self.send and self._thread is not None:
            flushed = self.flush(timeout)
        self._closed = True
        self._stop.set()
        self._wake.set()
        if not flushed:
            logger.warning("telemetry shutting down with %s item(s) left on disk at %s",
                           flushed.pending, self.queue_path)
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(max(timeout or 0, 1.0))
        _clients.discard(self)
        if thread is not None and thread.is_alive():
            # A request is still on the wire; its answer is settled when it comes (or the
            # batch is resent, same batchId, by the next client to open the queue).
            logger.debug("telemetry sender still busy at shutdown; leaving the queue open")
            return False
        try:
            self._queue.release_lease(self._owner)
        except Exception:
            logger.exception("could not release the telemetry queue lease")
        self._session.close()
        self._queue.close()
        return bool(flushed)

    # --- internals ---

    def _priority(self, value) -> int:
        if isinstance(value, int):
            return value
        return PRIORITIES.get(value or "normal", 0)

    def _with_properties(self, data):
        properties = self._properties
        if not properties or not isinstance(data, dict | None):
            return data if data is not None else {}
        return {**properties, **(data or {})}

    def _view(self, kind, name, properties, category, user_id, metadata, priority):
        item = {"itemType": kind}
        if name is not None:
            item["name"] = name
        if category is not None:
            item["category"] = category
        item["properties"] = self._with_properties(properties)
        return self._track(item, user_id, metadata, priority)

    def _metadata(self, metadata) -> dict:
        """The caller's metadata with a valid clientTimestamp (now, when none) and the context."""
        meta = dict(metadata or {})
        if meta.get("clientTimestamp") is None:
            meta["clientTimestamp"] = _now_iso()
        else:
            problem = timestamp_problem(meta["clientTimestamp"])
            if problem:
                raise TelemetryError(
                    f"metadata.clientTimestamp: {problem}",
                    code="invalid_item",
                    fields={"metadata.clientTimestamp": [problem]},
                )
        if self._context is not None and "context" not in meta:
            meta["context"] = self._context
        return meta

    def _track(self, item, user_id, metadata, priority, who=True):
        """Queues an item of a tracking verb: who it is for, an eventId, the metadata, then
        before_send; returns the eventId, or None when nothing was queued."""
        self._ensure_ready()
        if self._opted_out:
            return None
        if who:
            uid = user_id if user_id is not None else self.user_id
            if uid is not None:
                item["userId"] = _check_id("user_id", uid)
            else:
                item["anonymousId"] = self._anonymous_id
        item["eventId"] = event_id = uuid7()
        item["metadata"] = self._metadata(metadata)
        if self.before_send is not None:
            item = self._before_send(item)
            if item is None:
                return None
        self._put(event_id, item, item.get("userId"), priority)
        return event_id

    def _before_send(self, item):
        """The hook's version of the item (it sees a copy); its type and id stay.

        A hook that fails queues nothing: it may be what keeps private data out.
        """
        try:
            changed = self.before_send(copy.deepcopy(item))
        except Exception as exc:
            raise TelemetryError(f"before_send failed: {exc!r}; nothing was queued",
                                 code="before_send_failed") from exc
        if changed is None:
            return None
        if not isinstance(changed, dict):
            raise TelemetryError(
                f"before_send returned {type(changed).__name__}, not a dict or None; nothing "
                "was queued", code="before_send_failed")
        changed["itemType"], changed["eventId"] = item["itemType"], item["eventId"]
        return changed

    def _enqueue(self, item_id, item, user_id, priority) -> None:
        self._put(item_id, item, user_id if user_id is not None else self.user_id, priority)

    def _put(self, item_id, item, uid, priority) -> None:
        """Writes one item to the queue; uid is the user its batch goes under (None: each item
        names its own)."""
        self._ensure_ready()
        try:
            size = len(json.dumps(item, separators=(",", ":"), ensure_ascii=False,
                                  allow_nan=False).encode())
        except ValueError as exc:  # NaN, Infinity or a lone surrogate: the server refuses them
            raise TelemetryError(f"item is not valid JSON: {exc}", code="invalid_item") from None
        if size > MAX_ITEM_BYTES:
            raise TelemetryError(
                f"item is larger than {MAX_ITEM_BYTES} bytes", code="item_too_large"
            )
        dropped = self._queue.put(item_id, uid, self._priority(priority), item, self.max_queue)
        if dropped:
            logger.warning(
                "telemetry queue full (%s): dropped %s item(s)", self.max_queue, len(dropped)
            )
            self._emit(
                "queue:dropped",
                {"count": len(dropped), "itemIds": dropped, "maxQueue": self.max_queue},
            )
        self._wake.set()

    def _emit(self, event, payload) -> None:
        for fn in list(self._handlers.get(event, [])):
            try:
                fn(payload)
            except Exception:
                logger.exception("telemetry %s handler failed", event)

    def _headers(self) -> dict:
        headers = {"Content-Type": "application/json", "Accept": "application/json",
                   REQUEST_ID_HEADER: uuid.uuid4().hex}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers

    @staticmethod
    def _json(resp) -> dict:
        try:
            body = resp.json()
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}

    @staticmethod
    def _error_from(resp, body) -> TelemetryError:
        return TelemetryError(
            body.get("message") or f"HTTP {resp.status_code}",
            status=resp.status_code,
            code=body.get("error"),
            fields=body.get("fields"),
            retry_after=parse_retry_after(resp.headers.get("Retry-After")),
            request_id=resp.headers.get(REQUEST_ID_HEADER),
        )

    def _notify_progress(self) -> None:
        with self._progress:
            self._progress.notify_all()

    def _run(self) -> None:
        logger.debug("telemetry sender started (pid %s)", os.getpid())
        while not self._stop.is_set():
            paused = self._paused_until - time.monotonic()
            if paused > 0:
                self._stop.wait(min(paused, self.flush_interval))
                continue
            try:
                # Another process sharing the queue file may have opted out (or in). Opted out,
                # tracking waits on disk (the queue's claim skips it) and records still go.
                self._opted_out = bool(self._queue.get_meta(META_OPTED_OUT, False))
                wait = self._next_wait()
                sent = wait == 0 and self._send_next()
                if wait == 0 and not sent:
                    # Nothing due after all (another process took it, or no user has a whole
                    # batch): wait for the next capture or the window.
                    self._due_seq = None
                    wait = self.flush_interval if self._window is None else max(
                        self._window + self.flush_interval - time.monotonic(), 0.001)
            except Exception:
                logger.exception("telemetry sender failed; retrying")
                self._notify_progress()
                self._stop.wait(backoff_delay(max(self._attempt, 1)))
                continue
            self._notify_progress()
            if not sent and wait > 0:
                self._wake.wait(wait)
                self._wake.clear()

    def _next_wait(self) -> float:
        """Seconds until a batch is due (0: send now), like analytics-python's consumer.

        Due: a batch left unfinished, a whole batch of waiting items, a flush() call, or the
        oldest waiting item having waited flush_interval, in which case everything waiting at
        that moment goes, in as many batches as it takes.
        """
        waiting, unfinished, last_seq = self._queue.backlog(self._owner)
        now = time.monotonic()
        if not waiting:
            self._window = None
        elif self._window is None:
            self._window = now
        if self._urgent:
            self._due_seq = last_seq
        elif self._window is not None and now >= self._window + self.flush_interval:
            self._due_seq = last_seq
            self._window = None
        if unfinished or waiting >= self._batch_limit or (waiting and self._due_seq is not None):
            return 0
        if self._window is None:
            return self.flush_interval
        return max(self._window + self.flush_interval - now, 0.001)

    def _send_next(self) -> bool:
        """Sends one batch until the server settles it; False when nothing could be sent."""
        # Seqs start at 1: with nothing due, only a whole batch is made.
        due_seq = 0 if self._due_seq is None else self._due_seq
        batch = self._queue.claim(
            self._owner, self._batch_limit, MAX_BATCH_BYTES, LEASE_SECONDS, due_seq
        )
        if batch is None:
            return False
        while not self._stop.is_set():
            if batch.tracking and (self._opted_out or (self._attempt and self._holds_tracking())):
                # Opted out since the claim (here, or while it was retried): its tracking items
                # wait, and the next claim sends its records alone.
                return False
            body = {
                "batchId": batch.batch_id,
                "sentAt": _now_iso(),
                "items": batch.items,
            }
            if batch.user_id is not None:
                body["userId"] = batch.user_id
            if self.client_id:
                body["clientId"] = self.client_id
            self._emit("sync:start", {"batchId": batch.batch_id, "count": len(batch.items)})
            error = self._post(batch, body)
            if error is None:
                return True
            self._attempt += 1
            delay = error.retry_after
            if delay is None:
                delay = backoff_delay(self._attempt)
            logger.warning(
                "telemetry batch %s failed (%s); retrying in %.1fs", batch.batch_id, error, delay
            )
            self._emit_error(batch, error, willRetry=True, retryIn=delay)
            self._queue.extend(batch.batch_id, self._owner, LEASE_SECONDS + delay)
            self._stop.wait(delay)
        return False

    def _holds_tracking(self) -> bool:
        """Whether the queue file says opted out now (another process may have said it)."""
        self._opted_out = bool(self._queue.get_meta(META_OPTED_OUT, False))
        return self._opted_out

    def _post(self, batch, body) -> TelemetryError | None:
        """One attempt; None when the batch is settled, else the retryable error."""
        headers = self._headers()
        payload = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        gzipped = self.gzip
        if gzipped:
            payload = gzip.compress(payload, compresslevel=GZIP_LEVEL)
            headers["Content-Encoding"] = "gzip"
        try:
            resp = self._session.post(
                self.endpoint + BATCH_PATH, data=payload, headers=headers, timeout=self.timeout
            )
        except requests.RequestException as exc:
            return TelemetryError(f"network error: {exc}", code="network_error",
                                  request_id=headers[REQUEST_ID_HEADER])
        data = self._json(resp)
        if resp.status_code == 415 and gzipped:
            # A server (or a proxy before it) that takes no gzip: send plain JSON from now on.
            logger.warning("telemetry: %s refused a gzip body (request %s); sending without",
                           self.endpoint, resp.headers.get(REQUEST_ID_HEADER))
            self.gzip = False
            return self._post(batch, body)
        if 200 <= resp.status_code < 300:
            self._settle(batch, data)
            return None
        error = self._error_from(resp, data)
        if error.retryable:
            return error
        self._reject(batch, error, data)
        return None

    def _settle(self, batch, data) -> None:
        results = data.get("results")
        if not isinstance(results, list):
            # A 2xx without per-item results acknowledges the whole batch.
            results = [
                {"index": i, "itemId": item_id, "status": "accepted"}
                for i, item_id in enumerate(batch.item_ids)
            ]
        known = set(batch.item_ids)
        done, rejected, suppressed, unknown = [], [], [], []
        accepted = duplicates = 0
        for result in results:
            item_id = result.get("itemId")
            if item_id not in known:
                index = result.get("index")
                if not isinstance(index, int) or not 0 <= index < len(batch.item_ids):
                    continue
                item_id = batch.item_ids[index]
            status = result.get("status")
            if status == "accepted":
                accepted += 1
            elif status == "duplicate":
                duplicates += 1
            elif status == "rejected":
                rejected.append({"itemId": item_id, "fields": result.get("fields") or {}})
            elif status == "suppressed":
                # The person asked to be forgotten: final, the server never takes the item.
                suppressed.append(item_id)
            else:
                # A status this release does not know is still the server's answer to the
                # item: final too, or the item would be sent again for ever.
                unknown.append({"itemId": item_id, "status": status})
            done.append(item_id)
        if suppressed:
            # Counted before the items leave the queue, so a flush() that sees the queue empty
            # counts them.
            with self._state_lock:
                self._suppressed += len(suppressed)
                first, self._suppressed_logged = not self._suppressed_logged, True
        self._queue.finish(batch.batch_id, done)
        self._attempt = 0
        self._batch_limit = self.batch_size
        if suppressed:
            logger.log(logging.WARNING if first else logging.DEBUG,
                       "telemetry batch %s: %s item(s) refused, their person is suppressed "
                       "(erased and not to be tracked); dropped", batch.batch_id, len(suppressed))
            self._emit("sync:error", {
                "batchId": batch.batch_id, "status": 202, "code": "suppressed",
                "message": f"{len(suppressed)} item(s) refused: their person is suppressed",
                "itemIds": suppressed, "items": [{"itemId": i} for i in suppressed],
                "willRetry": False,
            })
        if unknown:
            logger.warning("telemetry batch %s: %s item(s) answered with a status this client "
                           "does not know (%s); dropped", batch.batch_id, len(unknown),
                           ", ".join(sorted({str(u["status"]) for u in unknown})))
            self._emit("sync:error", {
                "batchId": batch.batch_id, "status": 202, "code": "unknown_status",
                "message": f"{len(unknown)} item(s) answered with a status this client does "
                           "not know",
                "itemIds": [u["itemId"] for u in unknown], "items": unknown, "willRetry": False,
            })
        if rejected:
            logger.warning("telemetry batch %s: %s item(s) rejected", batch.batch_id, len(rejected))
            self._emit(
                "sync:error",
                {
                    "batchId": batch.batch_id,
                    "status": 202,
                    "code": "rejected",
                    "message": f"{len(rejected)} item(s) rejected by the server",
                    "items": rejected,
                    "willRetry": False,
                },
            )
        self._emit(
            "sync:complete",
            {
                "batchId": batch.batch_id,
                "successCount": accepted + duplicates,
                "accepted": accepted,
                "duplicates": duplicates,
                "failureCount": len(rejected) + len(unknown),
                "suppressed": len(suppressed),
            },
        )

    def _reject(self, batch, error, data) -> None:
        if isinstance(data.get("results"), list):
            self._settle(batch, data)
            return
        if error.status in (401, 403):
            # A bad key is a setup problem, not bad data: keep the items and try again later.
            logger.error(
                "telemetry key refused (%s, request %s): items kept on disk, next try in %ss",
                error.status,
                error.request_id,
                AUTH_RETRY_SECONDS,
            )
            self._paused_until = time.monotonic() + AUTH_RETRY_SECONDS
            self._queue.finish(batch.batch_id, [])
            self._emit_error(batch, error, willRetry=True, retryIn=AUTH_RETRY_SECONDS)
            return
        if error.status == 413 and len(batch.item_ids) > 1:
            # Too large as a whole: the same items go again in smaller batches.
            self._batch_limit = max(1, len(batch.item_ids) // 2)
            self._queue.finish(batch.batch_id, [])
            return
        indexes = _rejected_indexes(error.fields, len(batch.item_ids))
        dropped = [batch.item_ids[i] for i in sorted(indexes)] or list(batch.item_ids)
        self._queue.finish(batch.batch_id, dropped)
        logger.warning(
            "telemetry batch %s refused (%s, request %s): dropped %s item(s)",
            batch.batch_id,
            error.status,
            error.request_id,
            len(dropped),
        )
        self._emit_error(batch, error, fields=error.fields,
                         items=[{"itemId": i} for i in dropped], willRetry=False)

    def _emit_error(self, batch, error, **details):
        """`sync:error` for a batch the server refused or could not take."""
        self._emit("sync:error", {
            "batchId": batch.batch_id, "error": error, "status": error.status,
            "code": error.code, "message": error.message, "requestId": error.request_id,
            **details,
        })


def _rejected_indexes(fields, size) -> set[int]:
    """Item indexes named by field errors such as "items.3.eventData" or {"items": {"3": …}}."""
    found: set[int] = set()
    if not isinstance(fields, dict):
        return found
    for key, value in fields.items():
        parts = key.replace("[", ".").replace("]", "").split(".")
        if parts[0] == "items" and len(parts) > 1 and parts[1].isdigit():
            found.add(int(parts[1]))
        elif key == "items" and isinstance(value, dict):
            found.update(int(k) for k in value if str(k).isdigit())
    return {i for i in found if i < size}
