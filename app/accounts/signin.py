"""Console sign-in: the password check behind a throttle that every worker shares (SPEC §10).

Failed sign-ins are counted in the store per user name and per client address. The first
LOGIN_FREE_FAILURES of a count cost nothing; after each further one the next attempt must wait
LOGIN_DELAY_SECONDS, doubled per failure up to LOGIN_MAX_DELAY_SECONDS; at LOGIN_MAX_FAILURES
(LOGIN_ADDRESS_MAX_FAILURES for an address) the name or address is locked for
LOGIN_LOCK_SECONDS. An attempt that must wait is refused before its password is looked at, so
waiting out the delay is the only way on, and a lock holds even against the right password.
A count is forgotten LOGIN_LOCK_SECONDS after its last failure; a good sign-in clears the
name's count (not the address's: a shared address would otherwise reset an attacker's).
Unknown names are counted like real ones, so the throttle does not tell which names exist.
"""

import math
from datetime import timedelta

from ..store.common import utcnow
from . import audit
from .users import MAX_USERNAME_LENGTH, authenticate

# Names longer than any user's are all wrong: one count serves everything they start with.
KEY_NAME_LENGTH = MAX_USERNAME_LENGTH + 1
USER_NAME, ADDRESS = "user name", "address"


class SignInThrottled(Exception):
    """An attempt refused unheard: too many failures; `retry_after` seconds until the next."""

    def __init__(self, scope, until, locked, now):
        self.until = until
        self.retry_after = max(1, math.ceil((until - now).total_seconds()))
        wait = self.retry_after
        when = f"{wait} s" if wait < 120 else f"{math.ceil(wait / 60)} min"
        if locked:
            subject = "this user name" if scope == USER_NAME else "your address"
            self.message = (f"Too many failed sign-ins: {subject} is locked until "
                            f"{until:%H:%M:%S} UTC. Try again in {when}.")
        else:
            origin = "for this user name" if scope == USER_NAME else "from your address"
            self.message = f"Too many failed sign-ins {origin}: wait {when} before trying again."
        super().__init__(self.message)


def _counters(settings, username, address):
    """(scope, store key, failures that lock it) of each count this attempt belongs to."""
    counters = [(USER_NAME, f"user:{username[:KEY_NAME_LENGTH]}",
                 int(settings["LOGIN_MAX_FAILURES"]))]
    address_limit = int(settings["LOGIN_ADDRESS_MAX_FAILURES"])
    if address_limit > 0:
        counters.append((ADDRESS, f"address:{address or 'unknown'}", address_limit))
    return counters


def blocked_until(settings, failures, last_failure, limit):
    """Until when a count of `failures` (the last at `last_failure`) refuses attempts, and
    whether that is a lock; (None, False) when an attempt may go ahead now."""
    if failures >= limit:
        return last_failure + timedelta(seconds=float(settings["LOGIN_LOCK_SECONDS"])), True
    over = failures - int(settings["LOGIN_FREE_FAILURES"])
    if over <= 0:
        return None, False
    delay = min(float(settings["LOGIN_DELAY_SECONDS"]) * 2 ** min(over - 1, 64),
                float(settings["LOGIN_MAX_DELAY_SECONDS"]))
    return last_failure + timedelta(seconds=delay), False


def _check(store, settings, counters, now):
    """Raise SignInThrottled when one of the counts must wait before another attempt."""
    forget = timedelta(seconds=float(settings["LOGIN_LOCK_SECONDS"]))
    known = store.login_failures([key for _scope, key, _limit in counters])
    for scope, key, limit in counters:
        count = known.get(key)
        if count is None or count["at"] + forget <= now:
            continue
        until, locked = blocked_until(settings, count["failures"], count["at"], limit)
        if until is not None and until > now:
            raise SignInThrottled(scope, until, locked, now)


def sign_in(store, settings, username, password, address):
    """The user when the name and password are right, else None; SignInThrottled (password
    unchecked, nothing counted) while this name or address must wait. Failures are audited,
    and so is each lock as it starts."""
    now = utcnow()
    counters = _counters(settings, username, address)
    _check(store, settings, counters, now)
    user = authenticate(store, username, password)
    if user is not None:
        store.clear_login_failures(counters[0][1])
        return user
    store.forget_login_failures(now - timedelta(seconds=float(settings["LOGIN_LOCK_SECONDS"])))
    name = username[:KEY_NAME_LENGTH]
    counts = {}
    for scope, key, limit in counters:
        counts[scope] = failures = store.add_login_failure(key, now)
        if failures == limit:
            until, _locked = blocked_until(settings, failures, now, limit)
            audit.record(store, "sign-in throttle", "console.login_locked", key,
                         failures=failures, until=until.isoformat())
    audit.record(store, name or "(no name)", "console.login_failed",
                 f"address:{address or 'unknown'}", failures=counts[USER_NAME],
                 addressFailures=counts.get(ADDRESS))
    return None
