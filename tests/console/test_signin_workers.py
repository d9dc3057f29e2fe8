"""Sign-in throttling under `gunicorn -w 2`: failures counted by either worker lock the name for
both, because the counts live in the store (SQLite here; real MongoDB with TEST_MONGODB_URI is
not wired into gunicorn runs)."""

import re
import threading
import time
from pathlib import Path

import pytest
import requests

from app.accounts.users import create_user
from tests.test_gunicorn import serving_gunicorn

PASSWORD = "correct horse battery"
LOCK_AFTER = 12


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
        both_workers_up(url, log)
        yield url, store, log


def both_workers_up(url, log):
    """Wait until each worker has answered a request: the server answers as soon as the
    first worker has booted, and until the second has, the first takes every connection."""
    deadline = time.monotonic() + 30
    while len(workers_that_answered(log, 200, "GET", "/api/health")) < 2:
        assert time.monotonic() < deadline, "the second worker did not start"
        together_get(f"{url}/api/health", 4)


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


def together_get(url, n):
    """`n` GETs of `url` at once, each on a connection of its own."""
    threads = [threading.Thread(target=requests.get, args=(url,), kwargs={"timeout": 30})
               for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)


def workers_that_answered(log, status, method="POST", path="/console/login"):
    """The process ids that answered `method path` with `status`, by the access log."""
    ending = f"{status} {method} {path}"
    lines = Path(log).read_text().splitlines()
    return {line.split()[0] for line in lines if line.endswith(ending)}


def wait_for_log_lines(log, count, path="/console/login"):
    """Wait until the log holds `count` lines for `path` (written just after each answer)."""
    deadline = time.monotonic() + 10
    while sum(line.endswith(path) for line in Path(log).read_text().splitlines()) < count:
        assert time.monotonic() < deadline, f"fewer than {count} log lines for {path}"
        time.sleep(0.02)


@pytest.mark.multiprocess
def test_failures_spread_over_both_workers_lock_the_name_for_both(workers):
    url, store, log = workers
    # Which worker takes a connection is the kernel's choice: failures go in pairs until
    # both workers have counted some, then one at a time up to the lock.
    failed = 0
    while failed + 2 < LOCK_AFTER and len(workers_that_answered(log, 401)) < 2:
        assert [a.status_code for a in together(url, "wrong password", 2)] == [401, 401]
        failed += 2
        wait_for_log_lines(log, failed)
    assert len(workers_that_answered(log, 401)) == 2, "both workers should count failures"
    while failed < LOCK_AFTER:
        assert [a.status_code for a in together(url, "wrong password", 1)] == [401]
        failed += 1
    for attempt in range(10):
        answers = together(url, PASSWORD, 4)
        assert [a.status_code for a in answers] == [429] * 4
        assert all(590 <= int(a.headers["Retry-After"]) <= 600 for a in answers)
        assert "this user name is locked until" in answers[0].text
        wait_for_log_lines(log, failed + 4 * (attempt + 1))
        if len(workers_that_answered(log, 429)) == 2:
            break
    assert len(workers_that_answered(log, 429)) == 2, "both workers should refuse"
    assert store.login_failures(["user:ops"])["user:ops"]["failures"] == LOCK_AFTER
    assert [e["action"] for e in store.list_audit(limit=10)].count("console.login_locked") == 1
