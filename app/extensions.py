"""Extension objects, created without an app and attached in create_app with init_app."""

import threading

from flask import current_app
from flask_apscheduler import APScheduler
from flask_cors import CORS
from flask_smorest import Api
from flask_wtf import CSRFProtect
from htmx_flask import Htmx

from .accounts.ratelimit import RateLimiter
from .schemas.document import DocumentPlugin, RequestIdPlugin
from .schemas.errors import ErrorSchema
from .schemas.telemetry import EventItemSchema, RecordItemSchema
from .store import create_store, schema


class StoreExtension:
    """Holds the app's store, opened (made, or upgraded when STORE_AUTO_UPGRADE allows) on first
    use in each process."""

    def __init__(self):
        self._lock = threading.Lock()

    def init_app(self, app):
        app.extensions["prepmate.store"] = {"store": create_store(app.config, app), "ready": False}

    def get(self, app=None):
        """The app's store, at the schema version this release runs on. Raises
        schema.SchemaMismatch (and asks again next time) when it cannot be."""
        app = app or current_app
        state = app.extensions["prepmate.store"]
        if not state["ready"]:
            with self._lock:
                if not state["ready"]:
                    schema.open_store(state["store"],
                                      auto_upgrade=app.config["STORE_AUTO_UPGRADE"])
                    state["ready"] = True
        return state["store"]

    def unopened(self, app=None):
        """The app's store as it is, not opened: for what must work on a store that cannot be
        (a restore replacing it)."""
        return (app or current_app).extensions["prepmate.store"]["store"]

    def forget(self, app=None):
        """The next get() opens the store anew (after a restore replaced it)."""
        with self._lock:
            (app or current_app).extensions["prepmate.store"]["ready"] = False

    def schema_state(self, app=None):
        """Where the app's store stands (schema.state), without opening it."""
        return schema.state((app or current_app).extensions["prepmate.store"]["store"])

    def upgrade(self, app=None):
        """Take every upgrade step the app's store still needs; returns the steps taken."""
        with self._lock:
            state = (app or current_app).extensions["prepmate.store"]
            done = schema.upgrade(state["store"])
            state["ready"] = False  # the next get() opens it as upgraded
        return done


class ProjectApi(Api):
    """flask-smorest's Api, documenting the project's error shape and key authentication."""

    ERROR_SCHEMA = ErrorSchema

    def init_app(self, app, *, spec_kwargs=None):
        limits = (
            f"Limits: {app.config['MAX_ITEM_BYTES']} bytes of JSON per event or item, "
            f"{app.config['MAX_CONTENT_LENGTH']} bytes per request after decompression "
            "(`Content-Encoding: gzip` is accepted as a complete gzip stream; a chunked body "
            "counts the same as a sized one), "
            f"{app.config['MAX_BATCH_ITEMS']} items per batch. Errors always answer "
            '`{"error": code, "message": ..., "fields": {...}}`.'
        )
        app.config.setdefault("API_SPEC_OPTIONS", {"info": {"description": limits}})
        # The JSON Schemas are completed from the validators, with this app's limits.
        spec_kwargs = {"marshmallow_plugin": DocumentPlugin(app.config),
                       "extra_plugins": [RequestIdPlugin()], **(spec_kwargs or {})}
        super().init_app(app, spec_kwargs=spec_kwargs)
        self.spec.components.security_scheme(
            "bearerAuth", {"type": "http", "scheme": "bearer",
                           "description": "An API key: `Authorization: Bearer <key>`."})
        self.spec.components.security_scheme(
            "apiKeyHeader", {"type": "apiKey", "in": "header", "name": "X-API-Key"})
        # Batch items are validated one by one in the service; the document still names them.
        self.spec.components.schema("EventItem", schema=EventItemSchema)
        self.spec.components.schema("RecordItem", schema=RecordItemSchema)


api = ProjectApi()
scheduler = APScheduler()
htmx = Htmx()
csrf = CSRFProtect()
cors = CORS()
store = StoreExtension()
rate_limiter = RateLimiter()
