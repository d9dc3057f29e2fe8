"""Sign-in throttling under `gunicorn -w 2`: failures counted by either worker lock the name for
both, because the counts live in the store (SQLite here; real MongoDB with TEST_MONGODB_URI is
not wired into gunicorn runs)."""

import re
import threading
from pathlib import Path

import pytest
import requests

from app.accounts.users import create_user
from tests.test_gunicorn import serving_gunicorn

PASSWORD = "correct horse battery"
LOCK_AFTER = 4


@pytest.fixture
def workers(tmp_path, store_kind):
    """Two gunicorn workers on one SQLite file, logging which process answered each request;
    yields (url, store, access log path)."""
    log = tmp_path / "access.log"
    # No delay before the lock, so failures may arrive together; only the name's count.
    with serving_gunicorn(
            tmp_path, store_kind=store_kind, options=("--access-logfile", str(log),
                               "--access-logformat", "%(p)s %(s)s %(m)s %(U)s"),
            LOGIN_FREE_FAILURES="100", LOGIN_MAX_FAILURES=str(LOCK_AFTER),
            LOGIN_ADDRESS_MAX_FAILURES="0", LOGIN_LOCK_SECONDS="600") as (url, store):
        create_user(store, "ops", "operator", PASSWORD)
        yield url, store, log


def sign_in(url, password, start):
    """One sign-in from a fresh browser, sent when `start` lets every caller go at once."""
    browser = requests.Session()
    form = browser.get(f"{url}/console/login", timeout=30).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    start.wait(timeout=30)
    return browser.post(f"{url}/console/login", allow_redirects=False, timeout=30, data={
        "username": "ops", "password": password, "csrf_token": token})


def together(url, password, n):
    """`n` sign-ins sent at the same moment (so both workers take some); their answers."""
    start, answers = threading.Barrier(n), [None] * n

    def one(i):
        answers[i] = sign_in(url, password, start)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return answers


def workers_that_answered(log, status):
    """The process ids that answered a log-in POST with `status`."""
    lines = Path(log).read_text().splitlines()
    return {line.split()[0] for line in lines if line.endswith(f"{status} POST /console/login")}


@pytest.mark.multiprocess
def test_failures_spread_over_both_workers_lock_the_name_for_both(workers):
    url, store, log = workers
    for _ in range(LOCK_AFTER // 2):
        assert [a.status_code for a in together(url, "wrong password", 2)] == [401, 401]
    assert len(workers_that_answered(log, 401)) == 2, "both workers should count failures"
    for _ in range(10):
        answers = together(url, PASSWORD, 4)
        assert [a.status_code for a in answers] == [429] * 4
        assert all(590 <= int(a.headers["Retry-After"]) <= 600 for a in answers)
        assert "this user name is locked until" in answers[0].text
        if len(workers_that_answered(log, 429)) == 2:
            break
    assert len(workers_that_answered(log, 429)) == 2, "both workers should refuse"
    assert store.login_failures(["user:ops"])["user:ops"]["failures"] == LOCK_AFTER
    assert [e["action"] for e in store.list_audit(limit=10)].count("console.login_locked") == 1
