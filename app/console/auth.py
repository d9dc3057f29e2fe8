"""Console sessions: sign-in and sign-out, who is signed in, who may act, and safe redirects."""

import unicodedata
from urllib.parse import quote, unquote

from flask import abort, g, redirect, request, session, url_for

from ..accounts import audit
from ..accounts.users import ACTING_ROLES, end_sessions, session_epoch
from ..store.common import utcnow

MAX_NEXT_LENGTH = 2048
NEXT_DECODE_ROUNDS = 4
# Left as they are in a `next` target: URL delimiters and percent escapes (the rest is encoded).
NEXT_SAFE = "!#$%&'()*+,/:;=?@[]~"


def log_in(store, user):
    """Start a fresh session for the user (a new session defeats fixation), carrying the
    user's session epoch."""
    session.clear()
    session["user"] = user["username"]
    session["epoch"] = session_epoch(user)
    store.update_user(user["username"], {"lastLoginAt": utcnow()})
    audit.record(store, user["username"], "console.login")


def log_out(store):
    """End the session, and with it every other session of the user (a copied cookie too)."""
    username = session.get("user")
    session.clear()
    if username:
        end_sessions(store, username)
        audit.record(store, username, "console.logout")


def load_user(store):
    """The signed-in user for this request (re-read, so a role change applies at once); a
    session from an earlier epoch (signed out, password or role changed since) is ended."""
    username = session.get("user")
    user = store.get_user(username) if username else None
    if user is not None and session.get("epoch", 0) != session_epoch(user):
        session.clear()
        user = None
    g.user = user
    return user


def can_act(user):
    """True when the user's role may change things."""
    return bool(user) and user["role"] in ACTING_ROLES


def is_admin(user):
    """True when the user may do what only admins may (delete a person)."""
    return bool(user) and user["role"] == "admin"


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
