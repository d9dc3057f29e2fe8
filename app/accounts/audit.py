"""The audit log: who did what, when, to what."""

from ..store.common import utcnow


def record(store, actor, action, target=None, **details):
    """Append one audit entry."""
    store.add_audit({
        "at": utcnow(), "actor": actor, "action": action, "target": target,
        "details": details or None,
    })
