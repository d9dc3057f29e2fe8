"""Which URL form a console link takes for an id: the path form when the id can be a path
segment, the query form for any id."""

# Path segments the people pages use for themselves: a userId spelled like one takes the query
# form.
PEOPLE_SEGMENTS = ("export", "delete")


def path_safe(value, reserved=()):
    """True when an id can be a path segment of a console URL: not empty, no "/" (werkzeug
    decodes %2F) or "\\" (browsers read it as "/"), not "." or ".." (browsers resolve them),
    and none of `reserved`. Any other id takes the query form."""
    return (isinstance(value, str) and bool(value) and "/" not in value and "\\" not in value
            and value not in (".", "..") and value not in reserved)


def person_endpoint(user_id, app_id=None, **values):
    """(endpoint, values) of a person's page in the form that fits the userId."""
    if path_safe(user_id, PEOPLE_SEGMENTS):
        return "console.person", {"user_id": user_id, "app": app_id, **values}
    return "console.person_by_query", {"userId": user_id, "app": app_id, **values}
