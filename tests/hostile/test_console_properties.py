"""Properties of the console under any text (hypothesis): whatever `next` holds, its redirect
resolves on this site; whatever a cursor, id or filter holds, no console page answers 5xx.

The texts are all of Unicode but lone surrogates (which no URL or form can carry), control
characters included, mixed with the pieces open redirects and numeric overflows are made of."""

import html
import re
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import LIST_PAGES, on_site

ANY_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
REDIRECT_PIECES = ["/", "//", "\\", "%2F", "%2f", "%5C", "%252F", "%09", "%0A", "%00", "\t", "\r",
                   "\n", "\x00", " ", "@", ":", ".", "evil.example", "127.0.0.1", "javascript:",
                   "HTTPS:", "\uff0f", "\uff3c", "\u2215", "%EF%BC%8F", "?", "#", "console"]
# Targets that lead off the site as they stand, and what browsers drop (tabs and newlines, anywhere)
# or fold (a backslash is a slash) inside a URL, and what a server might decode: slipped in where
# a URL's authority is decided (its first characters), they are off-site targets in disguise.
OFF_SITE = ["//evil.example", "\\\\evil.example", "/\\evil.example", "https://evil.example",
            "javascript:alert(1)", "//127.0.0.1@evil.example"]
DISGUISES = ["\t", "\n", "\r", "\\", "%09", "%2F", "%5C"]


@st.composite
def disguised(draw):
    """An off-site target with a few disguises slipped in near its start."""
    text = draw(st.sampled_from(OFF_SITE))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        # Never inside an earlier disguise's %XX: split, it is no longer an escape ("/%%2F09/x"
        # is a path on this site).
        places = [at for at in range(5) if "%" not in text[max(at - 2, 0):at]]
        at = draw(st.sampled_from(places))
        text = text[:at] + draw(st.sampled_from(DISGUISES)) + text[at:]
    return text


NEXT_TARGETS = st.one_of(
    ANY_TEXT,
    st.lists(st.one_of(st.sampled_from(REDIRECT_PIECES), ANY_TEXT), max_size=8).map("".join),
    disguised(),
)
NUMBER_PIECES = ["0", "1", "9", "²", "１", "٣", "-", "+", ".", "e", ":", " ", "\x00", "inf", "nan",
                 "99999999999999999999", "ffffffffffffffffffffffff"]
CURSORS = st.one_of(
    ANY_TEXT,
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.tuples(st.floats(), st.integers(min_value=-(2**70), max_value=2**70)).map(
        lambda pair: f"{pair[0]!r}:{pair[1]}"),
    st.lists(st.sampled_from(NUMBER_PIECES), max_size=6).map("".join),
)
CHECKS = settings(max_examples=60, deadline=None,
                  suppress_health_check=[HealthCheck.function_scoped_fixture])


@CHECKS
@given(target=NEXT_TARGETS)
def test_a_next_target_always_resolves_on_this_site(world, target):
    response = world.admin.post(f"/console/queue/{world.pending}/retry", {"next": target})
    assert response.status_code == 303, repr(target)
    assert on_site(response.headers["Location"]), (target, response.headers["Location"])
    shown = world.admin.get("/console/login", query_string={"next": target})
    assert shown.status_code == 200, repr(target)
    hidden = re.search(r'name="next" value="([^"]*)"', shown.get_data(as_text=True)).group(1)
    assert on_site(html.unescape(hidden)), (target, hidden)


@settings(CHECKS, max_examples=80)
@given(target=disguised())
def test_an_off_site_target_in_disguise_falls_back_to_the_default(world, target):
    response = world.admin.post(f"/console/queue/{world.pending}/retry", {"next": target})
    assert response.status_code == 303, repr(target)
    assert response.headers["Location"] == "/console/errors", (target, response.headers)


@settings(CHECKS, max_examples=40)
@given(cursor=CURSORS, key=CURSORS, text=ANY_TEXT, hx=st.booleans())
def test_no_console_page_answers_5xx(world, cursor, key, text, hx):
    urls = [(page, {"before": cursor}) for page in LIST_PAGES] + [
        (f"/console/{kind}/{quote(key, safe='')}", None)
        for kind in ("queue", "batches", "conflicts")] + [
        ("/console/queue", {"q": text}),
        ("/console/errors", {"status": text, "type": text, "user": text, "app": text}),
        ("/console/errors/bulk", {"action": "retry", "user": text, "before": cursor})]
    for url, args in urls:
        response = world.admin.get(url, query_string=args,
                                   headers={"HX-Request": "true"} if hx else {})
        assert response.status_code < 500, (url, args)
