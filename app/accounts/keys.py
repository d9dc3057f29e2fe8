"""API keys: made once, shown once, stored as a SHA-256 hash, scoped, revocable and rotatable.

A key's `revokedAt` is the time it stops working: None while it works with no end, a time in
the future while a rotation's old key runs out (its successor already works), and a time in the
past once it has stopped. `authenticate` refuses a key whose time has come; revoking sets the
time to now, rotating to a time the admin chooses (never later than one already set).
"""

import hashlib
import logging
import secrets
import unicodedata
from datetime import UTC, datetime, timedelta

from ..store import StoreUnavailable
from ..store.common import utcnow
from . import audit

log = logging.getLogger("prepmate.api")

SCOPES = ("ingest", "read", "admin")
KEY_PREFIX = "pm"
MAX_APP_ID = 128
MAX_KEY_NAME = 100
# A rotated key's last day may be set at most this far ahead: past it, rotating is not the word.
MAX_ROTATION = timedelta(days=365)
# How stale a key's lastUsedAt may get: one write per key and minute, not one per request.
LAST_USED_RESOLUTION = timedelta(seconds=60)


class KeyRequestError(ValueError):
    """A key request that cannot be honoured (unknown scope, bad app name, a key not live)."""


def hash_key(raw_key):
    """The stored form of a key: keys are long random secrets, so one SHA-256 is enough."""
    return hashlib.sha256(raw_key.encode()).hexdigest()


def parse_scopes(text):
    """Scopes from 'ingest,read', refusing unknown ones."""
    scopes = [s.strip() for s in text.split(",") if s.strip()]
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise KeyRequestError(f"scopes must be a comma-separated subset of {', '.join(SCOPES)}")
    return sorted(set(scopes), key=SCOPES.index)


def _has_control(text):
    return any(unicodedata.category(c) == "Cc" for c in text)


def create_key(store, app_id, scopes, name=None):
    """Make a key for an app; returns (plaintext key, stored document)."""
    if not app_id or len(app_id) > MAX_APP_ID or _has_control(app_id):
        raise KeyRequestError(f"the app name must be 1-{MAX_APP_ID} characters, none of them "
                              "a control character")
    if name is not None and (len(name) > MAX_KEY_NAME or _has_control(name)):
        raise KeyRequestError(f"the key's name must be at most {MAX_KEY_NAME} characters, none "
                              "of them a control character")
    key_id = secrets.token_hex(6)
    raw_key = f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    doc = {
        "keyId": key_id, "appId": app_id, "name": name, "prefix": raw_key[:12],
        "keyHash": hash_key(raw_key), "scopes": list(scopes), "createdAt": utcnow(),
        "lastUsedAt": None, "revokedAt": None,
    }
    store.create_api_key(doc)
    return raw_key, doc


def works(doc, now):
    """True while the key is accepted: no stop time, or one still ahead."""
    stops = doc.get("revokedAt")
    return stops is None or stops > now


def key_state(doc, now):
    """'active' (no end), 'expiring' (works until its revokedAt) or 'revoked' (stopped)."""
    if doc.get("revokedAt") is None:
        return "active"
    return "expiring" if works(doc, now) else "revoked"


def authenticate(store, raw_key):
    """The live key document for a presented key, or None."""
    if not raw_key or len(raw_key) > 200:
        return None
    doc = store.find_api_key(hash_key(raw_key))
    now = utcnow()
    if doc is None or not works(doc, now):
        return None
    last_used = doc.get("lastUsedAt")
    if last_used is None or now - last_used >= LAST_USED_RESOLUTION:
        try:
            store.touch_api_key(doc["keyId"], now)
        except StoreUnavailable as exc:  # a convenience for operators: never fail a call on it
            log.debug("could not record the use of key %s: %s", doc["keyId"], exc)
    return doc


def find_key(store, key_id):
    """The key document with this keyId, or None (keys are few: one list serves)."""
    return next((doc for doc in store.list_api_keys() if doc["keyId"] == key_id), None)


def issue_key(store, app_id, scopes, name, actor):
    """Make a key for an app on someone's behalf, audited; returns (plaintext key, document)."""
    raw_key, doc = create_key(store, app_id, scopes, name=name)
    audit.record(store, actor, "key.create", f"key:{doc['keyId']}", appId=app_id,
                 scopes=",".join(doc["scopes"]), name=name)
    return raw_key, doc


def revoke_key(store, key_id, actor):
    """Stop a working key (active or running out after a rotation) now, audited; returns its
    document. KeyRequestError when no such key works."""
    doc = find_key(store, key_id)
    if doc is None or not store.revoke_api_key(key_id, utcnow()):
        raise KeyRequestError(f"no working key with id {key_id}")
    audit.record(store, actor, "key.revoke", f"key:{key_id}", appId=doc["appId"])
    return doc


def rotation_end(text, now):
    """The time a rotated key stops, from an ISO 8601 date-time (a form's datetime-local
    value; without an offset it is UTC). KeyRequestError unless it lies ahead, within
    MAX_ROTATION."""
    try:
        when = datetime.fromisoformat((text or "").strip())
        when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    except (ValueError, OverflowError):  # not a time, or one past year 9999 once in UTC
        raise KeyRequestError("give the time the old key stops as a date and time, "
                              "e.g. 2026-12-24T18:00 (UTC)") from None
    if when <= now:
        raise KeyRequestError(f"the time the old key stops ({when:%Y-%m-%d %H:%M:%S}Z) has "
                              "passed: choose a time ahead, or revoke the key to stop it now")
    if when > now + MAX_ROTATION:
        raise KeyRequestError(f"the time the old key stops ({when:%Y-%m-%d %H:%M}Z) is more "
                              f"than {MAX_ROTATION.days} days ahead")
    return when


def rotate_key(store, key_id, stops_at, actor):
    """Make the key's successor (same app, scopes and name) and have the old key stop at
    `stops_at`, audited; returns (plaintext new key, new document, old document).

    Only an active key rotates (one running out has its successor already). The successor is
    made first: should the old key have been revoked meanwhile, the successor is revoked again
    and nothing is left working that the admin did not see.
    """
    old = find_key(store, key_id)
    if old is None or key_state(old, utcnow()) != "active":
        raise KeyRequestError(f"no active key with id {key_id}: only an active key can be "
                              "rotated")
    raw_key, new = create_key(store, old["appId"], old["scopes"], name=old.get("name"))
    if not store.revoke_api_key(key_id, stops_at):
        store.revoke_api_key(new["keyId"], utcnow())
        raise KeyRequestError(f"key {key_id} was revoked meanwhile; nothing was rotated")
    audit.record(store, actor, "key.rotate", f"key:{key_id}", appId=old["appId"],
                 newKeyId=new["keyId"], oldKeyStops=stops_at.isoformat())
    return raw_key, new, old


def key_overview(store, now):
    """Every app (an app is the appId on its keys) with its keys, working ones first, how many
    work, and its last ingest: the last use of one of its ingest keys, to the minute (what
    `authenticate` keeps; ingest writes nothing more for it)."""
    apps = {}
    for doc in store.list_api_keys():
        apps.setdefault(doc["appId"], []).append(dict(doc, state=key_state(doc, now)))
    overview = []
    for app_id in sorted(apps):
        keys = sorted(apps[app_id], key=lambda d: d["state"] == "revoked")  # stable: newest first
        used = [d["lastUsedAt"] for d in keys if d.get("lastUsedAt") and "ingest" in d["scopes"]]
        overview.append({"appId": app_id, "keys": keys, "keyCount": len(keys),
                         "workingCount": sum(d["state"] != "revoked" for d in keys),
                         "lastIngest": max(used) if used else None})
    return overview
