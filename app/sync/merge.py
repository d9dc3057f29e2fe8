"""Three-way merge of record data, field by field against the version both sides started from."""

import json

# Marks a field one side does not have (absent and null are different values).
MISSING = object()


def same(a, b):
    """Equal as JSON values: 1, 1.0 and true are three different values here."""
    if a is MISSING or b is MISSING:
        return a is b
    return canonical(a) == canonical(b)


def canonical(value):
    """A value's canonical JSON text (sorted keys), for comparing and hashing."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def differing_fields(left, right):
    """Top-level fields whose values differ between two documents, sorted."""
    left, right = left or {}, right or {}
    return sorted(k for k in set(left) | set(right)
                  if not same(left.get(k, MISSING), right.get(k, MISSING)))


def three_way_merge(base, server, client):
    """Merge `client` into `server`, both edited from `base`: (merged, clashing field names).

    A field changed on one side only takes that side's value (a removal is a change too); a
    field changed on both sides to the same value takes it; a field changed on both sides to
    different values is a clash: `merged` keeps the server's value there and the caller must not
    apply it silently.
    """
    base, server, client = base or {}, server or {}, client or {}
    merged, clashes = {}, []
    for key in sorted(set(base) | set(server) | set(client)):
        b = base.get(key, MISSING)
        s = server.get(key, MISSING)
        c = client.get(key, MISSING)
        if same(s, c) or same(c, b):
            value = s
        elif same(s, b):
            value = c
        else:
            value = s
            clashes.append(key)
        if value is not MISSING:
            merged[key] = value
    return merged, clashes
