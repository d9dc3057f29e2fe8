"""What every JSON blueprint shares: 400 for validation errors, 415/400 for bodies, key auth."""

from copy import deepcopy
from functools import wraps

from flask import current_app, g, request
from flask_smorest import Blueprint, abort
from webargs.flaskparser import FlaskParser

from ..accounts.keys import authenticate
from ..extensions import rate_limiter, store
from ..schemas.errors import ErrorSchema

# Scopes a key needs for each kind of call; admin may do everything.
IMPLIED = {"admin": {"ingest", "read", "admin"}, "read": {"read"}, "ingest": {"ingest"}}


class JsonParser(FlaskParser):
    """Validation errors answer 400 (not 422); a body that is not JSON answers 415 or 400."""

    DEFAULT_VALIDATION_STATUS = 400
    # Each schema's own unknown-field policy applies, in the query string too.
    DEFAULT_UNKNOWN_BY_LOCATION = {}

    def load_json(self, req, schema):
        if not req.is_json:
            abort(415, error="unsupported_media_type",
                  message="Send the body as JSON with Content-Type: application/json.")
        try:
            return current_app.json.loads(req.get_data())
        except (ValueError, RecursionError) as exc:
            abort(400, error="invalid_json",
                  message=f"The body is not valid JSON: {str(exc).rstrip('.')}.")


class ApiBlueprint(Blueprint):
    """A flask-smorest blueprint using the project's parser."""

    ARGUMENTS_PARSER = JsonParser()

    def error(self, status, description, headers=None):
        """Document an error answer of the view, in the project's Error shape. Documentation
        only: unlike alt_response, it adds no wrapper that every request passes through."""
        documented = self.alt_response(status, schema=ErrorSchema, description=description,
                                       headers=headers)(lambda: None)._apidoc

        def decorator(func):
            apidoc = deepcopy(getattr(func, "_apidoc", {}))
            responses = apidoc.setdefault("response", {}).setdefault("responses", {})
            for code, docs in documented["response"]["responses"].items():
                responses.setdefault(code, []).extend(deepcopy(docs))
            func._apidoc = apidoc
            return func

        return decorator


def link(operation_id, description, **parameters):
    """An OpenAPI link: the operation a response leads to, its parameters taken from the body
    (`name="/json/pointer"`). Clients and test tools follow links to chain calls."""
    return {"operationId": operation_id, "description": description,
            "parameters": {name: f"$response.body#{pointer}"
                           for name, pointer in parameters.items()}}


def links(status, **named):
    """Document the links of the view's `status` response (documentation only)."""
    return Blueprint.doc(responses={status: {"links": named}})


def path_parameter(name, pattern, description):
    """A path parameter with the pattern its ids are made with (no other id can exist: 404)."""
    return {"in": "path", "name": name, "description": description,
            "schema": {"type": "string", "pattern": pattern}}


def header(description, required=True):
    """A response header as the OpenAPI document names it."""
    return {"description": description, "schema": {"type": "string"}, "required": required}


RETRY_AFTER = {"Retry-After": header("Seconds to wait before trying again.")}
# What every keyed call may answer before its view runs. alt_response reads nothing of the
# blueprint it is called on, so one unregistered blueprint documents these for every view.
_KEYED = ApiBlueprint("keyed", __name__)
KEYED_ERRORS = (
    _KEYED.error(401, "No valid API key: send one as `Authorization: Bearer <key>` or "
                      "`X-API-Key`.",
                 headers={"WWW-Authenticate": header("`Bearer realm=\"prepmate\"`.")}),
    _KEYED.error(403, "The key lacks the scope this call needs."),
    _KEYED.error(429, "The key is over RATE_LIMIT_PER_MINUTE calls a minute; see Retry-After.",
                 headers=RETRY_AFTER),
    _KEYED.error(503, "The store is unavailable; nothing was done. See Retry-After.",
                 headers=RETRY_AFTER),
)


def presented_key():
    """The key from `Authorization: Bearer …` or `X-API-Key`."""
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return request.headers.get("X-API-Key", "").strip() or None


class KeyRefused(Exception):
    """A presented key refused: 401 (no live key; `message` None, each protocol words it),
    403 (it lacks the scope) or 429 (over its rate limit, with Retry-After)."""

    def __init__(self, status, code, message=None, headers=None):
        super().__init__(code)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def admit_key(raw_key, scope):
    """The live key document of `raw_key` when it holds `scope` and is within its rate limit;
    sets g.api_key and g.app_id. Raises KeyRefused. Every keyed endpoint, native or
    compatible, admits its caller here."""
    key = authenticate(store.get(), raw_key)
    if key is None:
        raise KeyRefused(401, "unauthorized")
    granted = set().union(*(IMPLIED.get(s, {s}) for s in key["scopes"]))
    if scope not in granted:
        raise KeyRefused(403, "forbidden", f"This key lacks the '{scope}' scope.")
    g.api_key = key
    g.app_id = key["appId"]
    retry_after = rate_limiter.retry_after(key["keyId"])
    if retry_after:
        raise KeyRefused(429, "rate_limited",
                         f"Over {rate_limiter.per_minute} requests a minute for this key.",
                         {"Retry-After": str(retry_after)})
    return key


def require_scope(scope):
    """Refuse the call (401/403) unless a live key with `scope` is presented; sets g.app_id."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            try:
                admit_key(presented_key(), scope)
            except KeyRefused as refused:
                if refused.status == 401:
                    abort(401, error="unauthorized",
                          message="Send a valid API key as 'Authorization: Bearer <key>'.",
                          headers={"WWW-Authenticate": 'Bearer realm="prepmate"'})
                abort(refused.status, error=refused.code, message=refused.message,
                      headers=refused.headers)
            return view(*args, **kwargs)

        for documented in KEYED_ERRORS:
            wrapper = documented(wrapper)
        return Blueprint.doc(security=[{"bearerAuth": []}, {"apiKeyHeader": []}])(wrapper)

    return decorator
