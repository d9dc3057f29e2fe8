"""The console's hostile corpus: odd cursors, ids, filters and page sizes on every console page
(full page and htmx fragment), odd form fields on every action, and the known open-redirect forms
through log-in and through actions' `next` fields. Never a 5xx, on both stores; a refusal is the
HTML error page naming the problem, and a redirect stays on this site.

One app per store serves the whole table (the `world` fixture of conftest.py): each case only
reads, or is refused, or acts on nothing (a retry of a pending item), so cases cannot disturb one
another.
"""

from datetime import timedelta
from urllib.parse import quote

import pytest

from app.store.common import utcnow
from tests.console.conftest import PASSWORD, Console, csrf_token

from .conftest import LIST_PAGES, assert_refused, fragment, on_site, short, unchanged

BIG = "99999999999999999999"
LONG = "7" * 10000
# Cursors and ids no store hands out: past 64 bits, digits only to str.isdigit, non-finite and
# huge times, signs, floats, NUL, ten thousand characters.
CURSORS = [BIG, "18446744073709551616", "²", "inf:1", "1e300:1", "nan:1", f"1:{BIG}", "-1",
           "1.5", "\x00", LONG]
IDS = [BIG, "²", "１２", "-1", "1e3", "\x00", LONG, "65a1b2c3d4e5f60718293a4b0"]
DETAILS = [("/console/queue/{}", "No queue item"), ("/console/batches/{}", "No batch log"),
           ("/console/conflicts/{}", "No conflict"), ("/console/keys/{}/revoke", "No API key"),
           ("/console/keys/{}/rotate", "No API key")]
ACTIONS = ["/console/queue/{}/retry", "/console/queue/{}/discard",
           "/console/conflicts/{}/resolve", "/console/keys/{}/revoke", "/console/keys/{}/rotate"]
# Filters, search terms and page sizes: NUL, control characters, operators, huge, unknown.
ODD_FILTERS = [
    {"status": "\x00", "type": "\x00event", "user": "\x00", "app": "\x00"},
    {"status": "everything", "source": "-1", "user": "{'$ne': 1}", "app": "$where"},
    {"app": LONG, "user": "é" * 300, "type": "\r\n"},
    {"q": "\x00"}, {"q": LONG},
    {"limit": BIG, "page": "-1", "per_page": "²", "status": "dead", "user": "\u202e\ufeff"},
]
# Known open-redirect forms: each must fall back to the default page.
OFF_SITE = [
    "/%09/evil.example", "/\t/evil.example", "/\r/evil.example", "/\n/evil.example",
    "/\r\n/evil.example", "\t//evil.example", "/\t\t/evil.example", "/\\evil.example",
    "\\\\evil.example", "/\\/evil.example", "\\/evil.example", "//evil.example",
    "///evil.example", "////evil.example", "/%2F/evil.example", "%2F%2Fevil.example",
    "/%2f%2fevil.example", "/%5Cevil.example", "/%5C%5Cevil.example", "/%252F/evil.example",
    "/%25252F%25252Fevil.example", "//127.0.0.1@evil.example", "/\\127.0.0.1@evil.example",
    "https://127.0.0.1@evil.example/", "javascript:alert(1)", "JaVaScRiPt:alert(1)",
    "https://evil.example/", "HTTPS://evil.example", "http:evil.example", "data:text/html,x",
    " //evil.example", "  /\\evil.example", "\x00//evil.example", "/\x00/evil.example",
    "/%00/evil.example", "/\uff0fevil.example", "/\uff3cevil.example",
    "/%EF%BC%8Fevil.example", "\uff0f\uff0fevil.example", "/%EF%BC%BCevil.example",
    "evil.example", "/\x7f/evil.example", "/\x85/evil.example", "/" + "a" * 3000,
]
# Lookalikes that no browser reads as a slash stay in the path: kept, and still on this site.
LOOKALIKES = ["/\u2215evil.example", "/\u2044evil.example", "/\u29f8evil.example",
              "/\u3002evil.example", "/\u200b/evil.example"]
# Targets the console links to itself: kept.
ON_SITE = ["/console/queue?status=dead&before=12", "/console/errors", "/console/audit",
           "/console/queue?user=a%2Fb&app=x", "/console/@evil.example"]


# ---- cursors, ids, filters, page sizes ------------------------------------------------------

def page_and_fragment(world, url, **kwargs):
    """The answers to `url` as a full page and as the htmx fragment."""
    return [world.admin.get(url, headers=fragment(hx), **kwargs) for hx in (False, True)]


@pytest.mark.parametrize("value", CURSORS, ids=short)
@pytest.mark.parametrize("page", LIST_PAGES)
def test_an_odd_page_cursor_is_refused_with_400(world, page, value):
    for response in page_and_fragment(world, page, query_string={"before": value}):
        assert_refused(response, 400, "page cursor")


def real_cursor(world, page):
    """The cursor a page hands out to show rows older than one of its rows."""
    store = world.store
    if page == "/console/batches":
        row = store.batch_page(utcnow() - timedelta(days=1), limit=1)[0]
        return f"{row['startTime'].timestamp()!r}:{row['id']}"
    if page == "/console/audit":
        return str(store.list_audit(limit=1)[0]["id"])
    if page == "/console/conflicts":
        return str(world.conflict)
    return str(store.get_queue_item("testapp", world.cursors[page])["id"])


@pytest.mark.parametrize("page", LIST_PAGES)
def test_the_cursors_pages_hand_out_still_page(world, page):
    for cursor in (real_cursor(world, page), ""):
        for response in page_and_fragment(world, page, query_string={"before": cursor}):
            assert response.status_code == 200


@pytest.mark.parametrize("value", IDS + ["0"], ids=short)
@pytest.mark.parametrize("path, words", DETAILS, ids=["item", "batch", "conflict", "key-revoke",
                                                 "key-rotate"])
def test_an_odd_id_in_a_detail_url_is_404(world, path, words, value):
    for response in page_and_fragment(world, path.format(quote(value, safe=""))):
        assert_refused(response, 404, words)


@pytest.mark.parametrize("value", [BIG, "²", "\x00", LONG], ids=short)
@pytest.mark.parametrize("path", ACTIONS)
def test_an_odd_id_in_an_action_is_404_and_changes_nothing(world, path, value):
    response = world.admin.post(path.format(quote(value, safe="")),
                                {"resolution": "server", "next": "/console/errors"})
    assert_refused(response, 404, "No ")
    unchanged(world)


@pytest.mark.parametrize("args", ODD_FILTERS, ids=short)
@pytest.mark.parametrize("page", ["/console/queue", "/console/errors", "/console/batches",
                                  "/console/conflicts", "/console/audit",
                                  "/console/errors/bulk"])
def test_odd_filters_and_page_sizes_show_a_page(world, page, args):
    if page.endswith("/bulk"):
        args = {"action": "retry", **args}
    for response in page_and_fragment(world, page, query_string=args):
        assert response.status_code == 200


@pytest.mark.parametrize("action", ["\x00", "retry\n", LONG], ids=short)
def test_a_bulk_confirmation_for_no_known_action_is_400(world, action):
    assert_refused(world.admin.get("/console/errors/bulk", query_string={"action": action}),
                   400, "Choose retry or discard")


@pytest.mark.parametrize("count", [BIG, "²", "-1", "1.5", "\x00", LONG], ids=short)
def test_a_bulk_action_with_an_odd_confirmed_count_is_400_and_changes_nothing(world, count):
    response = world.admin.post("/console/errors/bulk", {"action": "discard", "count": count})
    assert_refused(response, 400, "is not a count")
    unchanged(world)


@pytest.mark.parametrize("args", ODD_FILTERS[:3], ids=short)
def test_a_bulk_action_with_odd_filters_matches_nothing(world, args):
    response = world.admin.post("/console/errors/bulk",
                                {"action": "retry", "count": "0", **args, "user": "\x00x"})
    assert response.status_code == 303 and on_site(response.headers["Location"])
    unchanged(world)


@pytest.mark.parametrize("merged, words", [
    ("[" * 100000 + "]" * 100000, "nested too deeply"),
    ('{"a": NaN}', "NaN is not JSON"),
    ('{"a": -Infinity}', "Infinity is not JSON"),
    ('{"a": 1e400}', "beyond the numbers JSON can carry"),
    (f'{{"a": {2**64}}}', "beyond the 64-bit integers"),
    (f'{{"a": [-{2**70}]}}', "beyond the 64-bit integers"),
    ('{"a": [' + "1" * 40000 + "]}", "beyond the 64-bit integers"),
    ('{"a": "\\ud800"}', "lone surrogate"),
    ('{"$set": {"a": 1}}', "cannot be stored"),
    ("\x00", "not valid JSON"),
    ("[1, 2]", "must be a JSON object"),
], ids=short)
def test_an_odd_edited_merge_is_refused_and_changes_nothing(world, merged, words):
    response = world.admin.post(f"/console/conflicts/{world.conflict}/resolve",
                                {"resolution": "merged", "merged": merged})
    assert_refused(response, 400, words)
    unchanged(world)


@pytest.mark.parametrize("resolution", ["", "\x00", "server\n", LONG], ids=short)
def test_a_resolution_of_no_known_kind_is_400_and_changes_nothing(world, resolution):
    response = world.admin.post(f"/console/conflicts/{world.conflict}/resolve",
                                {"resolution": resolution, "pick:title": "\x00"})
    assert_refused(response, 400, "resolution must be one of")
    unchanged(world)


@pytest.mark.parametrize("token", [LONG, "\x00", BIG], ids=short)
def test_an_odd_sync_progress_token_is_never_a_5xx(world, token):
    for response in page_and_fragment(world, f"/console/sync/{quote(token, safe='')}"):
        assert response.status_code < 500


@pytest.mark.parametrize("n, username", list(enumerate([
    "\x00", "admin\x00", LONG, "ad\r\nmin", "admin' OR '1'='1", "\ud7ff\U0001f600"])),
    ids=short)
def test_odd_user_names_are_refused_like_wrong_ones(world, n, username):
    session = Console(world.app.test_client())
    session.client.environ_base["REMOTE_ADDR"] = f"10.5.0.{n}"
    response = session.login(username, PASSWORD)
    assert_refused(response, 401, "Wrong user name or password.")


# ---- open redirects -------------------------------------------------------------------------

def sign_in(world, target, address):
    """Sign in through the form with `next` = target, from a fresh browser; the answer."""
    session = Console(world.app.test_client())
    session.client.environ_base["REMOTE_ADDR"] = address
    return session.client.post("/console/login", data={
        "username": "admin", "password": PASSWORD, "next": target,
        "csrf_token": csrf_token(session.client)})


@pytest.mark.parametrize("target", OFF_SITE, ids=short)
def test_no_next_leads_off_site(world, target):
    shown = world.admin.get("/console/login", query_string={"next": target})
    assert shown.status_code == 200
    assert 'name="next" value="/console/"' in shown.get_data(as_text=True)
    response = world.admin.post(f"/console/queue/{world.pending}/retry", {"next": target},
                                headers=fragment(len(target) % 2))
    assert response.status_code == 303
    assert response.headers["Location"] == "/console/errors"
    unchanged(world)


@pytest.mark.parametrize("target", OFF_SITE[:: len(OFF_SITE) // 12], ids=short)
def test_signing_in_never_leads_off_site(world, target):
    response = sign_in(world, target, "10.4.0.1")
    assert response.status_code == 303
    assert response.headers["Location"] == "/console/"


@pytest.mark.parametrize("target", ON_SITE)
def test_the_consoles_own_targets_are_kept(world, target):
    response = sign_in(world, target, "10.4.0.2")
    assert response.headers["Location"] == target
    response = world.admin.post(f"/console/queue/{world.pending}/retry", {"next": target})
    assert response.headers["Location"] == target


@pytest.mark.parametrize("target", LOOKALIKES, ids=short)
def test_lookalikes_browsers_keep_in_the_path_stay_on_site(world, target):
    response = world.admin.post(f"/console/queue/{world.pending}/retry", {"next": target})
    assert response.status_code == 303 and on_site(response.headers["Location"])
    assert response.headers["Location"].isascii()


def test_the_on_site_check_itself_catches_the_forms_browsers_clean_up():
    assert all(not on_site(t) for t in ("//evil.example", "/\t/evil.example", "/\\evil",
                                        "https://evil.example", "\\\\evil"))
    assert on_site("/console/queue?status=dead&before=12")
