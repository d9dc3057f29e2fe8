"""Keyed hashes for what must remember a person after erasure.

The suppression list, the tombstones of erased eventIds, itemIds and batchIds, and the audit
entry of a deletion keep an HMAC of the id under a server secret, never the id itself: a hash
recognises a resend or a suppressed person, and cannot be read back into the id (nor checked
against a guess without the secret).
"""

import hashlib
import hmac

# Kinds of hashed ids, so an eventId and a batchId spelled alike never match each other.
PERSON = "person"
EVENT = "event"
ITEM = "item"
BATCH = "batch"


def erasure_secret(settings):
    """The HMAC key: ERASURE_SECRET, or else one derived from SECRET_KEY."""
    secret = settings.get("ERASURE_SECRET") or ""
    if secret:
        return secret.encode()
    base = (settings.get("SECRET_KEY") or "").encode()
    return hmac.new(base, b"prepmate erasure key", hashlib.sha256).digest()


def keyed_hash(secret, kind, app_id, value):
    """The hex HMAC-SHA256 of one id of `kind` in `app_id` under `secret`."""
    message = "\x1f".join((kind, app_id or "", value)).encode("utf-8", "surrogatepass")
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def person_hash(settings, app_id, user_id):
    """The hash that stands for a person (a userId or an anonymousId) of an app."""
    return keyed_hash(erasure_secret(settings), PERSON, app_id, user_id)


def id_hashes(settings, kind, app_id, values):
    """{value: hash} for many ids of one kind (the secret is derived once)."""
    secret = erasure_secret(settings)
    return {value: keyed_hash(secret, kind, app_id, value) for value in values}
