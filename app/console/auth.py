"""Console accounts: users with roles, password hashing, log-in, and who may act."""

import unicodedata
from urllib.parse import quote, unquote

from flask import abort, g, redirect, request, session, url_for
from werkzeug.security import check_password_hash, generate_password_hash

from ..accounts import audit
from ..store import DuplicateKey
from ..store.common import utcnow

ROLES = ("admin", "operator", "viewer")
# Viewers see everything and change nothing.
ACTING_ROLES = ("admin", "operator")
MIN_PASSWORD_LENGTH = 8
MAX_NEXT_LENGTH = 2048
NEXT_DECODE_ROUNDS = 4
# Left as they are in a `next` target: URL delimiters and percent escapes (the rest is encoded).
NEXT_SAFE = "!#$%&'()*+,/:;=?@[]~"
# Checked against when the user is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


class UserError(ValueError):
    """A user that cannot be made (bad name, role or password, or a taken name)."""


def create_user(store, username, role, password):
    """Store a console user with a scrypt password hash; returns the stored document."""
    username = (username or "").strip()
    if not username or len(username) > 64:
        raise UserError("the user name must be 1-64 characters")
    if role not in ROLES:
        raise UserError(f"the role must be one of {', '.join(ROLES)}")
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise UserError(f"the password must be at least {MIN_PASSWORD_LENGTH} characters")
    doc = {"username": username, "passwordHash": generate_password_hash(password),
           "role": role, "createdAt": utcnow(), "lastLoginAt": None}
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


def log_in(store, user):
    """Start a fresh session for the user (a new session defeats fixation)."""
    session.clear()
    session["user"] = user["username"]
    store.update_user(user["username"], {"lastLoginAt": utcnow()})
    audit.record(store, user["username"], "console.login")


def log_out(store):
    """End the session."""
    username = session.get("user")
    session.clear()
    if username:
        audit.record(store, username, "console.logout")


def load_user(store):
    """The signed-in user for this request (re-read, so a role change applies at once)."""
    username = session.get("user")
    user = store.get_user(username) if username else None
    g.user = user
    return user


def can_act(user):
    """True when the user's role may change things."""
    return bool(user) and user["role"] in ACTING_ROLES


def safe_next(target, default):
    """`target` when a browser following it stays on this site, else `default`.

    Browsers drop tabs and newlines anywhere in a URL and read a backslash as a slash, so
    `/%09/evil.example` would lead to //evil.example. A target passes only when it is a path
    that starts with one "/" and holds no control character and no backslash: as sent, folded
    (NFKC: a fullwidth solidus is a slash) and percent-decoded, round after round. It comes
    back percent-encoded, so the Location header is plain ASCII.
    """
    if not target or len(target) > MAX_NEXT_LENGTH:
        return default
    text = target
    for _ in range(NEXT_DECODE_ROUNDS):
        folded = unicodedata.normalize("NFKC", text)
        for form in (text, folded):
            if (not form.startswith("/") or form[1:2] == "/" or "\\" in form
                    or any(unicodedata.category(c) == "Cc" for c in form)):
                return default
        decoded = unquote(folded)
        if decoded == text:
            return quote(target, safe=NEXT_SAFE)
        text = decoded
    return default  # still encoded after that many rounds: no page links like that


def require_login(store, public_endpoints):
    """before_request: send strangers to the log-in page and refuse viewers' actions."""
    if request.endpoint in public_endpoints:
        return None
    user = load_user(store)
    if user is None:
        login = url_for("console.login", next=request.full_path.rstrip("?"))
        if request.headers.get("HX-Request"):
            response = redirect(login)
            response.headers["HX-Redirect"] = login
            response.status_code = 401
            return response
        return redirect(login)
    if request.method not in ("GET", "HEAD", "OPTIONS") and request.endpoint != "console.logout":
        if not can_act(user):
            abort(403, description=f"Your role ({user['role']}) may look but not act.")
    return None


def actor():
    """The signed-in user's name, for the audit log."""
    return g.user["username"]
