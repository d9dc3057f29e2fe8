"""API keys: made once, shown once, stored as a SHA-256 hash, scoped, and revocable."""

import hashlib
import logging
import secrets
from datetime import timedelta

from ..store import StoreUnavailable
from ..store.common import utcnow

log = logging.getLogger("prepmate.api")

SCOPES = ("ingest", "read", "admin")
KEY_PREFIX = "pm"
# How stale a key's lastUsedAt may get: one write per key and minute, not one per request.
LAST_USED_RESOLUTION = timedelta(seconds=60)


class KeyRequestError(ValueError):
    """A key request that cannot be honoured (unknown scope, bad app name)."""


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


def create_key(store, app_id, scopes, name=None):
    """Make a key for an app; returns (plaintext key, stored document)."""
    if not app_id or len(app_id) > 128:
        raise KeyRequestError("the app name must be 1-128 characters")
    key_id = secrets.token_hex(6)
    raw_key = f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    doc = {
        "keyId": key_id, "appId": app_id, "name": name, "prefix": raw_key[:12],
        "keyHash": hash_key(raw_key), "scopes": list(scopes), "createdAt": utcnow(),
        "lastUsedAt": None, "revokedAt": None,
    }
    store.create_api_key(doc)
    return raw_key, doc


def authenticate(store, raw_key):
    """The live key document for a presented key, or None."""
    if not raw_key or len(raw_key) > 200:
        return None
    doc = store.find_api_key(hash_key(raw_key))
    if doc is None or doc.get("revokedAt") is not None:
        return None
    now = utcnow()
    last_used = doc.get("lastUsedAt")
    if last_used is None or now - last_used >= LAST_USED_RESOLUTION:
        try:
            store.touch_api_key(doc["keyId"], now)
        except StoreUnavailable as exc:  # a convenience for operators: never fail a call on it
            log.debug("could not record the use of key %s: %s", doc["keyId"], exc)
    return doc
