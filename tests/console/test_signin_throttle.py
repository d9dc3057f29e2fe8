"""Sign-in throttling (SPEC §10): failed sign-ins per user name and per client address earn a
growing delay, then a lock that refuses even the right password; kept in the store, audited."""

from datetime import timedelta

import pytest

from app.accounts import signin
from app.store.common import utcnow

from .conftest import PASSWORD, Console

pytestmark = pytest.mark.both_stores

WRONG = "not the password"


@pytest.fixture
def app_config():
    # Small numbers keep the test short; the rules are the same at the defaults.
    return {"LOGIN_FREE_FAILURES": 2, "LOGIN_DELAY_SECONDS": 1.0, "LOGIN_MAX_DELAY_SECONDS": 4.0,
            "LOGIN_MAX_FAILURES": 7, "LOGIN_ADDRESS_MAX_FAILURES": 9,
            "LOGIN_LOCK_SECONDS": 600.0}


class Clock:
    """The throttle's clock, moved by the test instead of by sleeping."""

    def __init__(self):
        self.now = utcnow()

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(signin, "utcnow", clock)
    return clock


def attempt(app, username, password, address="10.0.0.1"):
    """One sign-in from a fresh browser at `address`."""
    session = Console(app.test_client())
    session.client.environ_base["REMOTE_ADDR"] = address
    return session.login(username, password)


def refused(response):
    """(Retry-After seconds, message) of a throttled sign-in."""
    assert response.status_code == 429, response.status_code
    page = response.get_data(as_text=True)
    assert 'name="password"' in page  # the log-in form again, with the reason
    return int(response.headers["Retry-After"]), page


def test_the_delay_grows_after_the_free_failures_and_holds_against_the_right_password(
        app, users, clock):
    for _ in range(2):
        assert attempt(app, "operator", WRONG).status_code == 401
    waits = []
    for _ in range(4):
        assert attempt(app, "operator", WRONG).status_code == 401
        retry_after, page = refused(attempt(app, "operator", PASSWORD))
        assert "Too many failed sign-ins for this user name: wait" in page
        waits.append(retry_after)
        clock.advance(retry_after)
    assert waits == [1, 2, 4, 4]  # doubling, up to LOGIN_MAX_DELAY_SECONDS
    assert attempt(app, "operator", PASSWORD).status_code == 303


def test_the_lock_refuses_the_right_password_until_it_ends(app, users, clock, store):
    for _ in range(7):
        assert attempt(app, "viewer", WRONG).status_code == 401
        clock.advance(5)
    retry_after, page = refused(attempt(app, "viewer", PASSWORD))
    assert "this user name is locked until" in page and "Try again in 10 min" in page
    assert 590 <= retry_after <= 600
    clock.advance(retry_after - 1)
    refused(attempt(app, "viewer", PASSWORD))
    clock.advance(1)
    assert attempt(app, "viewer", PASSWORD).status_code == 303
    actions = [(e["action"], e["target"]) for e in store.list_audit(limit=100)]
    assert actions.count(("console.login_failed", "address:10.0.0.1")) == 7
    assert actions.count(("console.login_locked", "user:viewer")) == 1
    assert ("console.login", None) in actions


def test_a_good_sign_in_clears_the_names_count_but_not_the_addresses(app, users, clock):
    for n in range(2):
        attempt(app, "admin", WRONG, address=f"10.2.0.{n}")
    assert attempt(app, "admin", PASSWORD, address="10.2.0.9").status_code == 303
    for n in range(2):
        assert attempt(app, "admin", WRONG, address=f"10.2.0.{n}").status_code == 401
    # Four failures of the name in all, but two since the good sign-in: no wait yet.
    assert attempt(app, "admin", PASSWORD, address="10.2.0.9").status_code == 303
    # An address's count outlives a good sign-in from it.
    for name in ("operator", "operator", "admin"):
        attempt(app, name, WRONG if name == "operator" else PASSWORD, address="10.3.0.1")
    assert attempt(app, "viewer", WRONG, address="10.3.0.1").status_code == 401
    _retry_after, page = refused(attempt(app, "viewer", PASSWORD, address="10.3.0.1"))
    assert "Too many failed sign-ins from your address: wait 1 s" in page


def test_unknown_names_are_throttled_like_real_ones(app, users, clock):
    for name in ("operator", "nobody"):
        for _ in range(3):
            attempt(app, name, WRONG, address=f"10.1.0.{len(name)}")
        retry_after, _page = refused(attempt(app, name, WRONG, address=f"10.1.0.{len(name)}"))
        assert retry_after == 1


def test_one_address_trying_many_names_is_locked_out_but_others_are_not(app, users, clock,
                                                                        store):
    for n in range(9):
        assert attempt(app, f"guess-{n}", WRONG, address="10.9.9.9").status_code == 401
        clock.advance(5)
    retry_after, page = refused(attempt(app, "operator", PASSWORD, address="10.9.9.9"))
    assert "your address is locked until" in page and retry_after > 590
    assert attempt(app, "operator", PASSWORD, address="10.0.0.2").status_code == 303
    assert ("console.login_locked", "address:10.9.9.9") in [
        (e["action"], e["target"]) for e in store.list_audit(limit=100)]


def test_counts_are_forgotten_a_lock_time_after_the_last_failure(app, users, clock):
    for _ in range(5):
        clock.advance(10)
        attempt(app, "operator", WRONG)
    retry_after, _page = refused(attempt(app, "operator", PASSWORD))
    assert retry_after > 1  # five failures: a doubled delay
    clock.advance(600)
    for _ in range(3):
        assert attempt(app, "operator", WRONG).status_code == 401
    # Counted from scratch: three failures wait one second (eight would have locked the name).
    retry_after, _page = refused(attempt(app, "operator", PASSWORD))
    assert retry_after == 1
    clock.advance(1)
    assert attempt(app, "operator", PASSWORD).status_code == 303
