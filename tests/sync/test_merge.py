"""The three-way merge: one-sided changes merge, two-sided clashes are reported, nothing is
invented (property-based with hypothesis)."""

from hypothesis import given
from hypothesis import strategies as st

from app.sync.merge import MISSING, same, three_way_merge

KEYS = st.sampled_from(["a", "b", "c", "d", "e"])
VALUES = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=False),
                   st.text(max_size=3), st.lists(st.integers(0, 2), max_size=2),
                   st.dictionaries(st.sampled_from(["x", "y"]), st.integers(0, 2), max_size=2))
DOCS = st.dictionaries(KEYS, VALUES, max_size=5)


def test_one_sided_changes_from_both_sides_merge():
    merged, clashes = three_way_merge({"a": 1, "b": 1, "c": 1}, {"a": 2, "b": 1, "c": 1},
                                      {"a": 1, "b": 3})
    assert merged == {"a": 2, "b": 3} and clashes == []


def test_the_same_change_on_both_sides_is_no_clash():
    assert three_way_merge({"a": 1}, {"a": 2}, {"a": 2}) == ({"a": 2}, [])


def test_different_changes_to_one_field_clash():
    merged, clashes = three_way_merge({"a": 1}, {"a": 2}, {"a": 3})
    assert clashes == ["a"] and merged == {"a": 2}


def test_json_types_are_not_confused():
    assert three_way_merge({"a": 1}, {"a": 1}, {"a": True}) == ({"a": True}, [])
    assert not same(1, 1.0) and not same(0, False) and same({"x": [1]}, {"x": [1]})


@given(DOCS, DOCS, DOCS)
def test_merging_never_drops_a_one_sided_change(base, server, client):
    merged, clashes = three_way_merge(base, server, client)
    for key in set(base) | set(server) | set(client):
        b, s, c = (d.get(key, MISSING) for d in (base, server, client))
        m = merged.get(key, MISSING)
        if same(s, b) and not same(c, b):
            assert same(m, c) and key not in clashes
        if same(c, b) and not same(s, b):
            assert same(m, s) and key not in clashes


@given(DOCS, DOCS, DOCS)
def test_merging_never_invents_a_value(base, server, client):
    merged, clashes = three_way_merge(base, server, client)
    for key, value in merged.items():
        assert any(same(value, d.get(key, MISSING)) for d in (base, server, client))
    for key in clashes:
        b, s, c = (d.get(key, MISSING) for d in (base, server, client))
        assert not same(s, b) and not same(c, b) and not same(s, c)


@given(DOCS, DOCS)
def test_merging_from_an_unchanged_side_gives_the_other_side(base, changed):
    assert three_way_merge(base, base, changed) == (changed, [])
    assert three_way_merge(base, changed, base) == (changed, [])
