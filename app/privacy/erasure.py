"""Erasing a person: every row of theirs in every table, in bounded steps that resume after a
crash, and what must remember them afterwards kept as keyed hashes only.

- **Who.** A request names one id; the person is that id, the userId it is linked to when it is
  an anonymousId, and every anonymousId of that profile. The deletion keeps these clear ids
  (`userIds`) only while it runs; once done, it keeps none.
- **Request.** `request_deletion` records the deletion (pending), the suppression of every one of
  the ids at once when asked (items arriving during the erasure are already refused), a line in
  the erasure ledger, and an audit entry naming the person by hash. An unknown person is erased
  the same way (nothing to erase): the answer never tells whether the person existed.
- **Steps.** `run_deletions` advances open deletions phase by phase (PHASES): the audit log's
  copies first, then the store's erase steps, each deleting at most STEP_ROWS rows in one
  transaction together with the tombstones of the erased eventIds, itemIds and batchIds. After
  every step the deletion records its phase and counts and renews its lease
  (`erasure:<deletionId>`, SYNC_LEASE_SECONDS): two processes never run one deletion, and a
  killed process's deletion is taken up by the next run once its lease has run out.
- **Bytes.** The last phase asks the store to make the freed bytes unreadable (SQLite: the steps
  ran with secure_delete on; a TRUNCATE checkpoint then clears the WAL). It fails while readers
  hold old snapshots: the deletion stays running in phase `checkpoint` until a later run
  succeeds, and only then is it `done`.
- **Restores.** A backup taken before an erasure brings the person back. The ledger
  (ERASURE_LEDGER_PATH, a JSON-lines file outside the store: appId, the hashes, when, suppress)
  lists every erasure; `reapply_erasures` finds those the store does not record, finds the
  person's ids among the app's ids by their hashes, and erases them again.
"""

import json
import logging
import os
import re
import time
import uuid
from datetime import timedelta

from ..accounts import audit
from ..accounts.privacy import BATCH, EVENT, ITEM, id_hashes, person_hash
from ..store.common import utcnow
from ..store.errors import DuplicateKey
from ..store.port.erasure import ERASE_PHASES

log = logging.getLogger("prepmate.privacy")

AUDIT, CHECKPOINT, DONE = "audit", "checkpoint", "done"
PHASES = (AUDIT, *ERASE_PHASES, CHECKPOINT)
# Rows one transaction erases: a writer waits at most one such step for the lock.
STEP_ROWS = 500
# Audit entries looked at per step.
AUDIT_PAGE = 500
# Open deletions looked at per run.
OPEN_PAGE = 20
# What a scrubbed audit entry keeps of its details: no payload, no id of the person.
AUDIT_KEPT = {"appId", "kind", "resolution", "version", "previousStatus", "count",
              "confirmedCount", "status", "recordType"}
HASH_KINDS = {"event": EVENT, "item": ITEM, "batch": BATCH}
PERSON_IDS_PAGE = 1000


class ErasureLedgerError(Exception):
    """The erasure ledger cannot be read."""


def public(deletion):
    """A deletion as the API and the CLI show it: no clear id, no hash."""
    counts = dict(deletion.get("counts") or {})
    return {"deletionId": deletion["id"], "status": deletion["status"],
            "phase": (deletion.get("phase") or "").split(":")[0] or None,
            "suppress": bool(deletion.get("suppress")), "counts": counts,
            "requestedAt": deletion.get("requestedAt"), "updatedAt": deletion.get("updatedAt"),
            "finishedAt": deletion.get("finishedAt")}


def person_ids(store, app_id, user_id):
    """The ids that are one person: `user_id`, the userId it is linked to when it is an
    anonymousId, and the anonymousIds of that profile."""
    ids = [user_id]
    identity = store.get_identities(app_id, [user_id]).get(user_id)
    owner = (identity or {}).get("userId") or user_id
    if owner not in ids:
        ids.append(owner)
    profile = store.get_people(app_id, [owner]).get(owner)
    for anonymous_id in (profile or {}).get("anonymousIds") or []:
        if anonymous_id not in ids:
            ids.append(anonymous_id)
    return ids


def request_deletion(store, settings, app_id, user_id, *, suppress, requested_by):
    """Record the erasure of a person (and their suppression at once when asked); the work
    is done by run_deletions. Returns the deletion as `public` shows it."""
    ids = person_ids(store, app_id, user_id)
    deletion = _new_deletion(settings, app_id, user_id, ids, suppress, requested_by, utcnow())
    _record(store, settings, deletion, ids)
    _append_ledger(settings, deletion, ids)
    return public(deletion)


def _new_deletion(settings, app_id, user_id, ids, suppress, requested_by, now, deletion_id=None):
    return {"id": deletion_id or uuid.uuid4().hex, "appId": app_id,
            "subject": person_hash(settings, app_id, user_id), "userIds": ids,
            "suppress": bool(suppress), "status": "pending", "phase": AUDIT, "counts": {},
            "requestedBy": requested_by, "requestedAt": now, "updatedAt": now,
            "finishedAt": None, "error": None}


def _record(store, settings, deletion, ids):
    app_id, now = deletion["appId"], deletion["requestedAt"]
    if deletion["suppress"]:
        for user_id in ids:
            store.add_suppression(app_id, person_hash(settings, app_id, user_id), now)
    store.add_deletion(deletion)
    audit.record(store, deletion["requestedBy"], "person.delete",
                 f"person:{deletion['subject']}", appId=app_id, deletionId=deletion["id"],
                 suppress=deletion["suppress"])


def get_deletion(store, app_id, deletion_id):
    """One deletion of an app as `public` shows it, or None (another app's too)."""
    deletion = store.get_deletion(deletion_id)
    if deletion is None or deletion["appId"] != app_id:
        return None
    return public(deletion)


# --- running ---------------------------------------------------------------------------------

def run_deletions(store, settings, budget=30.0, *, only=None, step_rows=STEP_ROWS):
    """Advance open deletions (or only the one named) for about `budget` seconds; returns the
    deletions it advanced, as `public` shows them."""
    deadline = time.monotonic() + budget
    owner = uuid.uuid4().hex
    advanced = []
    candidates = ([store.get_deletion(only)] if only is not None
                  else store.open_deletions(OPEN_PAGE))
    for deletion in candidates:
        if deletion is None or time.monotonic() >= deadline:
            break
        result = _run_one(store, settings, deletion["id"], owner, deadline, step_rows)
        if result is not None:
            advanced.append(result)
    return advanced


def _lease(settings):
    return timedelta(seconds=int(settings.get("SYNC_LEASE_SECONDS") or 60))


def _run_one(store, settings, deletion_id, owner, deadline, step_rows):
    lock, lease = f"erasure:{deletion_id}", _lease(settings)
    now = utcnow()
    if not store.acquire_lock(lock, owner, now + lease, now):
        return None  # another process runs it
    try:
        deletion = store.get_deletion(deletion_id)
        if deletion is None or deletion["status"] not in ("pending", "running"):
            return None
        try:
            deletion = _advance(store, settings, deletion, owner, lock, deadline, step_rows)
        except Exception as exc:
            # Left running where it stood: the next run takes it up from there.
            log.exception("deletion %s stopped in phase %s", deletion_id, deletion.get("phase"))
            store.update_deletion(deletion_id, {"error": type(exc).__name__,
                                                "updatedAt": utcnow()})
            deletion = store.get_deletion(deletion_id)
        return public(deletion)
    finally:
        store.release_lock(lock, owner)


def _advance(store, settings, deletion, owner, lock, deadline, step_rows):
    app_id, ids = deletion["appId"], deletion.get("userIds") or []
    counts = dict(deletion.get("counts") or {})
    phase = deletion.get("phase") or AUDIT
    lease = _lease(settings)

    def hasher(kind, values):
        return list(id_hashes(settings, HASH_KINDS[kind], app_id, values).values())

    def save(**changes):
        changes.update(phase=phase, counts=counts, updatedAt=utcnow())
        store.update_deletion(deletion["id"], changes)
        deletion.update(changes)

    save(status="running")
    renewed = utcnow()
    while time.monotonic() < deadline:
        name, _, position = phase.partition(":")
        if name == AUDIT:
            position, scrubbed = _scrub_audit_page(store, settings, deletion, ids,
                                                   position or None)
            counts["audit"] = counts.get("audit", 0) + scrubbed
            phase = f"{AUDIT}:{position}" if position else _next(AUDIT)
        elif name == CHECKPOINT:
            if deletion.get("userIds") is not None:
                # Forgotten before the checkpoint, which then overwrites them on disk too.
                save(userIds=None)
            if not store.flush_erased():
                save(error="checkpoint_busy")
                log.info("deletion %s: the WAL checkpoint waits for readers; retried later",
                         deletion["id"])
                return deletion
            phase = DONE
            save(status="done", finishedAt=utcnow(), error=None)
            log.info("deletion %s done: %s", deletion["id"], counts)
            return deletion
        else:
            erased = store.erase_step(app_id, ids, name, step_rows, hasher, utcnow())
            counts[name] = counts.get(name, 0) + erased
            if erased < step_rows:
                phase = _next(name)
        save()
        # The heartbeat, once a third of the lease has gone by: a deletion whose lease was
        # taken over stops here.
        now = utcnow()
        if now - renewed >= lease / 3:
            if not store.acquire_lock(lock, owner, now + lease, now):
                return deletion
            renewed = now
    return deletion


def _next(phase):
    return PHASES[PHASES.index(phase) + 1]


# --- the audit log's copies -----------------------------------------------------------------

def _id_pattern(ids):
    """A regular expression finding any of the ids as a whole word of a text."""
    alternatives = "|".join(re.escape(i) for i in sorted(ids, key=len, reverse=True) if i)
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)") if alternatives else None


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def _item_of(entry):
    details = entry.get("details") or {}
    target = entry.get("target") or ""
    if isinstance(details, dict) and isinstance(details.get("itemId"), str):
        return details["itemId"]
    return target[5:] if target.startswith("item:") else None


def _scrub_audit_page(store, settings, deletion, ids, before):
    """Scrub one page of audit entries, newest first; (the next page's cursor or None, the
    number scrubbed)."""
    app_id = deletion["appId"]
    pattern = _id_pattern(ids)
    entries = store.list_audit(limit=AUDIT_PAGE, before_id=before)
    scrubbed = 0
    for entry in entries:
        details = entry.get("details")
        entry_app = details.get("appId") if isinstance(details, dict) else None
        names = pattern is not None and any(pattern.search(s) for s in
                                            _strings([entry.get("target"), details]))
        item_id = _item_of(entry) if entry_app == app_id else None
        theirs = False
        if item_id is not None:
            item = store.get_queue_item(app_id, item_id)
            theirs = item is not None and item.get("userId") in ids
        if not (names or theirs):
            continue
        target, kept = entry.get("target"), {}
        if theirs:
            item_hash = id_hashes(settings, ITEM, app_id, [item_id])[item_id]
            target = f"item-hash:{item_hash}" if (target or "").startswith("item:") else target
            kept["itemHash"] = item_hash
        if isinstance(details, dict):
            kept.update({k: v for k, v in details.items() if k in AUDIT_KEPT})
        if pattern is not None and target:
            target = pattern.sub("[erased]", target)
        kept = {k: pattern.sub("[erased]", v) if pattern and isinstance(v, str) else v
                for k, v in kept.items()}
        kept["erasedBy"] = deletion["id"]
        store.replace_audit(entry["id"], target, kept)
        scrubbed += 1
    more = len(entries) == AUDIT_PAGE
    return (str(entries[-1]["id"]) if more else None), scrubbed


# --- the ledger, and restores ---------------------------------------------------------------

def ledger_path(settings):
    """Where the erasure ledger is: ERASURE_LEDGER_PATH, else beside the SQLite file
    (`<SQLITE_PATH>.erasures`), else (MongoDB) `erasures.jsonl` in the instance folder."""
    if settings.get("ERASURE_LEDGER_PATH"):
        return settings["ERASURE_LEDGER_PATH"]
    if settings.get("MONGODB_URI"):
        return os.path.join(settings.get("INSTANCE_PATH") or "instance", "erasures.jsonl")
    return f"{settings['SQLITE_PATH']}.erasures"


def _append_ledger(settings, deletion, ids):
    app_id = deletion["appId"]
    line = json.dumps({
        "deletionId": deletion["id"], "appId": app_id, "subject": deletion["subject"],
        "subjects": sorted({person_hash(settings, app_id, i) for i in ids}),
        "suppress": deletion["suppress"], "erasedAt": deletion["requestedAt"].isoformat(),
    }, ensure_ascii=True)
    path = ledger_path(settings)
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "a", encoding="ascii") as ledger:
            ledger.write(line + "\n")
            ledger.flush()
            os.fsync(ledger.fileno())
    except OSError:
        # The erasure goes on; only a restore of an older backup would not repeat it.
        log.exception("cannot write the erasure ledger %s: deletion %s is not in it", path,
                      deletion["id"])


def read_ledger(settings):
    """The ledger's entries, one per deletion (a missing file has none)."""
    path = ledger_path(settings)
    entries = {}
    try:
        with open(path, encoding="ascii") as ledger:
            for number, line in enumerate(ledger, 1):
                if not line.strip():
                    continue
                try:
                    entry = json.loads(line)
                    entries[entry["deletionId"]] = entry
                except (ValueError, KeyError, TypeError):
                    # A line cut short by a crash while it was appended.
                    log.warning("erasure ledger %s: line %d is unreadable, skipped", path,
                                number)
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise ErasureLedgerError(f"cannot read the erasure ledger {path}: {exc}") from exc
    return list(entries.values())


def _find_ids(store, settings, app_id, subjects):
    """The app's ids whose hashes are among `subjects`, read page by page."""
    wanted, found, after = set(subjects), [], None
    while True:
        page = store.person_ids_after(app_id, after, PERSON_IDS_PAGE)
        found += [i for i in page if person_hash(settings, app_id, i) in wanted]
        if len(page) < PERSON_IDS_PAGE:
            return found
        after = page[-1]


def reapply_erasures(store, settings):
    """Erase again the people of ledger entries the store does not record (a restored
    backup); returns the deletions made, as `public` shows them. Costs one lookup per entry
    when the store records them all."""
    made = []
    for entry in read_ledger(settings):
        app_id = entry["appId"]
        if store.has_deletion(app_id, entry["subject"]):
            continue
        subjects = entry.get("subjects") or [entry["subject"]]
        ids = []
        for found in _find_ids(store, settings, app_id, subjects):
            ids += [i for i in person_ids(store, app_id, found) if i not in ids]
        deletion = _new_deletion(settings, app_id, "", ids, entry.get("suppress"), "restore",
                                 utcnow(), deletion_id=entry["deletionId"])
        deletion["subject"] = entry["subject"]
        if deletion["suppress"]:
            for subject in subjects:
                store.add_suppression(app_id, subject, deletion["requestedAt"])
        try:
            store.add_deletion(deletion)
        except DuplicateKey:
            continue  # another process (a second worker) re-applied it first
        audit.record(store, "restore", "person.delete", f"person:{entry['subject']}",
                     appId=app_id, deletionId=deletion["id"], suppress=deletion["suppress"],
                     reapplied=True, erasedAt=entry.get("erasedAt"))
        log.warning("erasure %s of %s (erased at %s) was missing from the store: erasing again "
                    "(%d ids found)", deletion["id"], app_id, entry.get("erasedAt"), len(ids))
        made.append(public(deletion))
    return made
