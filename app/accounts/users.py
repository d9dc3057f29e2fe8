"""Console users: names, roles, scrypt password hashes, and the session epoch that ends sessions."""

from werkzeug.security import check_password_hash, generate_password_hash

from ..store import DuplicateKey
from ..store.common import utcnow
from . import audit

ROLES = ("admin", "operator", "viewer")
# Viewers see everything and change nothing.
ACTING_ROLES = ("admin", "operator")
MIN_PASSWORD_LENGTH = 8
MAX_USERNAME_LENGTH = 64
# Checked against when the user is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


class UserError(ValueError):
    """A user that cannot be made or changed (bad name, role or password, taken or unknown)."""


def _checked_password(password):
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise UserError(f"the password must be at least {MIN_PASSWORD_LENGTH} characters")
    return generate_password_hash(password)


def _checked_role(role):
    if role not in ROLES:
        raise UserError(f"the role must be one of {', '.join(ROLES)}")
    return role


def create_user(store, username, role, password):
    """Store a console user with a scrypt password hash; returns the stored document."""
    username = (username or "").strip()
    if not username or len(username) > MAX_USERNAME_LENGTH:
        raise UserError(f"the user name must be 1-{MAX_USERNAME_LENGTH} characters")
    doc = {"username": username, "passwordHash": _checked_password(password),
           "role": _checked_role(role), "createdAt": utcnow(), "lastLoginAt": None}
    try:
        store.create_user(doc)
    except DuplicateKey:
        raise UserError(f"a user named {username!r} exists already") from None
    return doc


def authenticate(store, username, password):
    """The user when the password is right, else None (in about the same time either way)."""
    user = store.get_user(username or "")
    if user is None:
        check_password_hash(_DUMMY_HASH, password or "")
        return None
    if not check_password_hash(user["passwordHash"], password or ""):
        return None
    return user


def session_epoch(user):
    """The user's session epoch: a console session is valid only while it carries this one.
    Users made before epochs existed have none: 0, like the sessions they already hold."""
    return user.get("sessionEpoch") or 0


def end_sessions(store, username):
    """End every console session of the user (signing out ends them all, copies included)."""
    return store.update_user(username, {}, end_sessions=True)


def set_password(store, username, password, actor):
    """Give the user a new password; their sessions end. UserError when unknown or too short."""
    changed = store.update_user(username, {"passwordHash": _checked_password(password)},
                                end_sessions=True)
    if not changed:
        raise UserError(f"no user named {username!r}")
    audit.record(store, actor, "user.set_password", f"user:{username}")


def set_role(store, username, role, actor):
    """Give the user another role; their sessions end. UserError when unknown or no role."""
    user = store.get_user(username)
    if user is None:
        raise UserError(f"no user named {username!r}")
    store.update_user(username, {"role": _checked_role(role)}, end_sessions=True)
    audit.record(store, actor, "user.set_role", f"user:{username}", previousRole=user["role"],
                 role=role)
