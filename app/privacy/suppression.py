"""Suppression: a person erased with `suppress` is refused at ingest from then on (each of their
items answered `suppressed`, ingest/suppression.py), until an admin lifts it.

The suppression list keeps the person's keyed hash (accounts/privacy.py), never the id, and so
does the audit entry of a lift: what an admin typed is not written anywhere.
"""

from ..accounts import audit
from ..accounts.privacy import person_hash
from ..store.common import utcnow


def suppression_state(store, settings, app_id, user_id):
    """{userId, suppressed, since}: whether the person (a userId or an anonymousId) is
    suppressed in the app, and since when."""
    since = store.is_suppressed(app_id, person_hash(settings, app_id, user_id))
    return {"userId": user_id, "suppressed": since is not None, "since": since}


def suppress(store, settings, app_id, user_id, *, actor):
    """Refuse the person's items at ingest from now on; audited. False when already so."""
    subject = person_hash(settings, app_id, user_id)
    added = store.add_suppression(app_id, subject, utcnow())
    audit.record(store, actor, "person.suppress", f"person:{subject}", appId=app_id,
                 added=added)
    return added


def lift(store, settings, app_id, user_id, *, actor):
    """Take the person off the app's suppression list, so their items are taken again;
    audited (with the hash). False when the person was not suppressed."""
    subject = person_hash(settings, app_id, user_id)
    lifted = store.lift_suppression(app_id, subject)
    audit.record(store, actor, "person.unsuppress", f"person:{subject}", appId=app_id,
                 lifted=lifted)
    return lifted
