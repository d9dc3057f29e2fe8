"""The application factory: it only wires settings, extensions, blueprints, handlers, commands."""

from pathlib import Path

from flask import Flask

from .config import load_config

ROOT = Path(__file__).resolve().parent.parent


def create_app(config=None):
    """Build the app; `config` (a mapping) overrides the profile and the environment."""
    settings = load_config(config)
    app = Flask(__name__, static_folder=str(ROOT / "static"),
                template_folder=str(ROOT / "templates"),
                instance_path=str(settings.get("INSTANCE_PATH") or ROOT / "instance"))
    app.config.update(settings)
    from .http import FastJsonProvider

    app.json = FastJsonProvider(app)
    app.json.sort_keys = False
    from .logging import configure_logging

    configure_logging(app)
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    return app


def register_extensions(app):
    from .extensions import api, cors, csrf, htmx, rate_limiter, store
    from .http import REQUEST_ID_HEADER, RequestBodies, RequestIds, note_request, wide_body_limit
    from .ingest.compat import COMPAT_PATH_SEGMENTS, is_compat_path

    app.wsgi_app = RequestBodies(app.wsgi_app, int(app.config["MAX_CONTENT_LENGTH"]),
                                 int(app.config["COMPAT_MAX_CONTENT_LENGTH"]), is_compat_path)
    # Outermost: the id and the access line's duration cover the reading of the body too.
    app.wsgi_app = RequestIds(app.wsgi_app)
    app.before_request(wide_body_limit)
    app.teardown_request(note_request)
    store.init_app(app)
    api.init_app(app)
    htmx.init_app(app)
    csrf.init_app(app)
    rate_limiter.init_app(app)
    origins = [o.strip() for o in str(app.config["CORS_ORIGINS"]).split(",") if o.strip()]
    # The API and the compatible endpoints (their first path segments, and the documents
    # posthog-js and analytics.js fetch at start).
    compat = "|".join(sorted(COMPAT_PATH_SEGMENTS | {"decide", "flags", "array"}))
    cors.init_app(app, resources={r"/api/telemetry/.*": {"origins": origins},
                                  rf"/({compat})(/.*)?$": {"origins": origins}},
                  expose_headers=["Retry-After", REQUEST_ID_HEADER], max_age=600)


def register_blueprints(app):
    from .api import erasure, events, health, people, segment, suppressions, sync, telemetry
    from .api import posthog as posthog_api
    from .console import bp as console_bp
    from .console.metrics import bp as metrics_bp
    from .extensions import api, csrf

    for module in (telemetry, sync, people, suppressions, events, erasure, health):
        api.register_blueprint(module.blp)
        csrf.exempt(module.blp)
    app.register_blueprint(segment.bp)
    csrf.exempt(segment.bp)
    app.register_blueprint(posthog_api.bp)
    csrf.exempt(posthog_api.bp)
    posthog_api.serve_static_with_posthog_js(app)
    app.register_blueprint(console_bp)
    app.register_blueprint(metrics_bp)


def register_errorhandlers(app):
    from .errors import register_errorhandlers as register

    register(app)


def register_commands(app):
    from .cli import register

    register(app)
