"""What a store can hold as sent: the key rules and the nesting limit of free-form JSON data."""

# How deep eventData, metadata and record data may nest.
MAX_NESTING = 32
# The key rule of key_problem as a regular expression, for the OpenAPI document's
# `propertyNames` (tests/schemas/test_document.py holds the two to the same answers).
KEY_PATTERN = r"^(?!\$)[^.\u0000]*$"
# Integers a store holds exactly (the JSON reader marks any other as out of range).
INT64_MIN, INT64_MAX = -(2 ** 63), 2 ** 63 - 1
KEPT_AS_SENT = (f"Stored exactly as sent. Keys may not start with '$' or contain '.' or a NUL "
                f"(\\u0000); at most {MAX_NESTING} levels of nesting.")


def key_problem(key):
    """Why a key of data cannot be stored as it was sent, or None."""
    if key.startswith("$") or "." in key:
        return "Keys may not start with '$' or contain '.'."
    if "\x00" in key:
        return "Keys may not contain the NUL character (\\u0000)."
    return None


def bad_keys(value, path, found, depth=0):
    """Collect paths of keys a store cannot hold as sent ($-prefixed, dotted, or holding a NUL,
    which MongoDB refuses and SQLite's JSON path reading would cut), and refuse deep nesting."""
    if depth > MAX_NESTING:
        found[path] = [f"Nested deeper than {MAX_NESTING} levels."]
        return found
    if isinstance(value, dict):
        for key, inner in value.items():
            problem = key_problem(key)
            if problem is not None:
                found[f"{path}.{key}"] = [problem]
            elif isinstance(inner, dict | list):
                bad_keys(inner, f"{path}.{key}", found, depth + 1)
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            if isinstance(inner, dict | list):
                bad_keys(inner, f"{path}.{i}", found, depth + 1)
    return found


def keys_storable(value, depth=0):
    """Whether bad_keys would find nothing: the same rules, checked without naming paths (the
    ingest hot path; bad_keys names the problems of what this refuses)."""
    if depth > MAX_NESTING:
        return False
    if type(value) is dict:
        for key, inner in value.items():
            if key[:1] == "$" or "." in key or "\x00" in key:
                return False
            if type(inner) in (dict, list) and not keys_storable(inner, depth + 1):
                return False
    elif type(value) is list:
        for inner in value:
            if type(inner) in (dict, list) and not keys_storable(inner, depth + 1):
                return False
    return True


def escaped_key(key):
    """A key the store refuses (a leading `$`, a `.`) made storable the way MongoDB's
    documentation advises: `$` -> U+FF04, `.` -> U+FF0E. Other keys come back unchanged."""
    if key.startswith("$"):
        key = "\uff04" + key[1:]
    return key.replace(".", "\uff0e") if "." in key else key


def _escaped_copy(value, depth):
    if depth > MAX_NESTING:  # refused for its depth anyway: left as it is
        return value
    if type(value) is dict:
        copy = {}
        for key, inner in value.items():
            if key[:1] == "$" or "." in key:
                key = escaped_key(key)
            if type(inner) is dict or type(inner) is list:
                inner = _escaped_copy(inner, depth + 1)
            copy[key] = inner
        return copy
    if type(value) is list:
        return [_escaped_copy(inner, depth + 1) if type(inner) is dict or type(inner) is list
                else inner for inner in value]
    return value


def escaped(value):
    """A JSON value with every object key escaped (escaped_key), at any depth. Protocols'
    properties use `$` and `.` freely; their messages are kept, not refused for it (ingest
    escapes a compatible item's data only when keys_storable finds a key to escape)."""
    return _escaped_copy(value, 0)
