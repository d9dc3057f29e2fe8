"""Configuration profiles (development, production, testing), read from the environment and .env."""

import json
import os

# The seed's tuning table: per-profile defaults, every value overridable by the environment.
PROFILE_DEFAULTS = {
    "development": {
        "SYNC_INTERVAL_MINUTES": 1,
        "SYNC_BATCH_SIZE": 50,
        "SYNC_MAX_QUEUE": 500,
        "SYNC_MAX_RETRIES": 3,
    },
    "production": {
        "SYNC_INTERVAL_MINUTES": 5,
        "SYNC_BATCH_SIZE": 200,
        "SYNC_MAX_QUEUE": 2000,
        "SYNC_MAX_RETRIES": 5,
        "STORE_AUTO_UPGRADE": False,
    },
}
PROFILE_DEFAULTS["testing"] = dict(PROFILE_DEFAULTS["development"])


def _bool(value):
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


def _json(value):
    return json.loads(value) if isinstance(value, str) else value


LOG_FORMATS = ("text", "json")


def _log_format(value):
    name = str(value).strip().lower()
    if name not in LOG_FORMATS:
        raise ValueError(f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, not {value!r}")
    return name


# Setting name -> (default, parser). Profile defaults above win over these.
SETTINGS = {
    "SECRET_KEY": (None, str),
    # The key of the hashes that remember erased people and ids (app/accounts/privacy.py).
    # Unset, it is derived from SECRET_KEY: set it to change SECRET_KEY without forgetting
    # who asked to be suppressed and which ids were erased.
    "ERASURE_SECRET": (None, str),
    # The ledger of erasures a restore re-applies (app/privacy/erasure.py): default
    # <SQLITE_PATH>.erasures, or instance/erasures.jsonl with MongoDB. Keep it with the backups'
    # host, not inside them.
    "ERASURE_LEDGER_PATH": (None, str),
    # How often the scheduler advances pending erasures, and for how long at most each time.
    "ERASURE_INTERVAL_SECONDS": (30.0, float),
    "ERASURE_RUN_BUDGET_SECONDS": (20.0, float),
    "MONGODB_URI": (None, str),
    "MONGODB_WRITE_CONCERN": ("majority", str),
    "MONGODB_JOURNAL": (True, _bool),
    "SQLITE_PATH": ("instance/prepmate.sqlite3", str),
    # Where local files such as the dev credentials live (default: instance/ in the project).
    "INSTANCE_PATH": (None, str),
    # FULL fsyncs the WAL on every commit, so an acknowledged batch survives power loss too.
    "SQLITE_SYNCHRONOUS": ("FULL", str),
    # How long a write waits for another process's transaction before answering 503.
    "SQLITE_BUSY_TIMEOUT_MS": (10000, int),
    # Upgrade a store made by an earlier release when the app opens it (on in development and
    # testing); off, such a store is refused until `flask --app wsgi store upgrade` has run.
    "STORE_AUTO_UPGRADE": (True, _bool),
    "SYNC_INTERVAL_MINUTES": (1, float),
    "SYNC_BATCH_SIZE": (50, int),
    "SYNC_MAX_QUEUE": (500, int),
    "SYNC_MAX_RETRIES": (3, int),
    "SYNC_LEASE_SECONDS": (60, int),
    "SYNC_EAGER_DELAY_SECONDS": (2.0, float),
    "SYNC_RUN_BUDGET_SECONDS": (30.0, float),
    # How long an item after a gap in its client's seq waits for the missing one.
    "SYNC_SEQ_HOLD_SECONDS": (60.0, float),
    "SYNC_BACKOFF_BASE_SECONDS": (5.0, float),
    "SYNC_BACKOFF_MAX_SECONDS": (3600.0, float),
    "ENABLE_SCHEDULED_SYNC": (True, _bool),
    "CONFLICT_STRATEGIES": ({}, _json),
    "CONFLICT_DEFAULT_STRATEGY": ("merge", str),
    "STRICT_EVENT_TYPES": (False, _bool),
    # Apps (comma-separated ids, or "*") whose batch items of itemType identify, alias, group,
    # page and screen stay record types, as before those became the identity verbs.
    "LEGACY_RECORD_TYPE_APPS": ("", str),
    # Days to keep applied events, batch logs, done queue items and sync runs; 0 keeps all.
    "RETENTION_DAYS": (0, float),
    "MAX_CONTENT_LENGTH": (1024 * 1024, int),
    "MAX_ITEM_BYTES": (32 * 1024, int),
    "MAX_BATCH_ITEMS": (1000, int),
    "MAX_FUTURE_SKEW_SECONDS": (300, int),
    # The Segment- and PostHog-compatible endpoints take their libraries' own limits (posthog-python
    # sends up to 900 KiB per message and 5 MiB per batch, and PostHog's servers take 20 MiB per
    # request); a message stays small enough for MongoDB's 16 MB documents.
    "COMPAT_MAX_CONTENT_LENGTH": (20 * 1024 * 1024, int),
    "COMPAT_MAX_ITEM_BYTES": (1024 * 1024, int),
    "COMPAT_MAX_BATCH_ITEMS": (10000, int),
    "RATE_LIMIT_PER_MINUTE": (0, int),
    "CORS_ORIGINS": ("*", str),
    # Console sign-in throttle, per user name and per client address (app/accounts/signin.py):
    # after the free failures each next attempt waits a delay that doubles up to its maximum;
    # at the maximum failures the name (or address) is locked. A count is forgotten
    # LOGIN_LOCK_SECONDS after its last failure; a good sign-in clears the name's count.
    "LOGIN_FREE_FAILURES": (3, int),
    "LOGIN_DELAY_SECONDS": (1.0, float),
    "LOGIN_MAX_DELAY_SECONDS": (60.0, float),
    "LOGIN_MAX_FAILURES": (10, int),
    # 0 turns the per-address rule off (behind a proxy every client has the proxy's address).
    "LOGIN_ADDRESS_MAX_FAILURES": (50, int),
    "LOGIN_LOCK_SECONDS": (900.0, float),
    "METRICS_TOKEN": (None, str),
    # Read from the DEBUG variable (e.g. "prepmate:*"); Flask's own DEBUG flag stays a boolean.
    "DEBUG_NAMESPACES": ("", str),
    "VERBOSITY": ("info", str),
    # "json" writes one JSON object per log line (time, level, namespace, message, request id...).
    "LOG_FORMAT": ("text", _log_format),
}


# Settings whose environment variable has another name than the setting.
ENV_NAMES = {"DEBUG_NAMESPACES": "DEBUG"}


class Config:
    """Settings shared by every profile."""

    APP_ENV = "development"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    WTF_CSRF_TIME_LIMIT = None
    API_TITLE = "PrepMate Telemetry & Sync"
    API_VERSION = "1.0"
    # OpenAPI 3.1: its schemas are JSON Schema 2020-12 (propertyNames, if/then, type lists).
    OPENAPI_VERSION = "3.1.0"
    OPENAPI_URL_PREFIX = "/api"
    OPENAPI_JSON_PATH = "openapi.json"
    # /api/docs: Swagger UI 5 from npm's swagger-ui-dist, copied to static/vendor/ by
    # scripts/setup; the page loads nothing from another host (no online validator badge).
    OPENAPI_SWAGGER_UI_PATH = "docs"
    OPENAPI_SWAGGER_UI_URL = "/static/vendor/swagger-ui/"
    OPENAPI_SWAGGER_UI_CONFIG = {"validatorUrl": None}


class DevelopmentConfig(Config):
    APP_ENV = "development"
    # A development-only secret; production refuses to start without SECRET_KEY.
    SECRET_KEY = "dev-only-not-secret"


class ProductionConfig(Config):
    APP_ENV = "production"
    SESSION_COOKIE_SECURE = True


class TestingConfig(Config):
    APP_ENV = "testing"
    TESTING = True
    SECRET_KEY = "testing-only-not-secret"
    ENABLE_SCHEDULED_SYNC = False


PROFILES = {
    "development": DevelopmentConfig,
    "production": ProductionConfig,
    "testing": TestingConfig,
}


def load_config(overrides=None, environ=None):
    """The settings: profile class, profile defaults, then the environment, then `overrides`."""
    environ = os.environ if environ is None else environ
    overrides = dict(overrides or {})
    env_name = overrides.get("APP_ENV") or environ.get("APP_ENV") or "development"
    if env_name not in PROFILES:
        raise ValueError(f"APP_ENV must be one of {sorted(PROFILES)}, not {env_name!r}")
    profile = PROFILES[env_name]
    settings = {k: getattr(profile, k) for k in dir(profile) if k.isupper()}
    for name, (default, _parse) in SETTINGS.items():
        settings.setdefault(name, default)
    settings.update(PROFILE_DEFAULTS[env_name])
    for name, (_default, parse) in SETTINGS.items():
        env_key = ENV_NAMES.get(name, name)
        if env_key in environ and name not in overrides:
            settings[name] = parse(environ[env_key])
    for name, value in overrides.items():
        parse = SETTINGS.get(name, (None, None))[1]
        settings[name] = parse(value) if parse and isinstance(value, str) else value
    settings["LOG_FORMAT"] = _log_format(settings["LOG_FORMAT"])
    if env_name == "production" and not settings.get("SECRET_KEY"):
        raise RuntimeError("SECRET_KEY must be set in production")
    settings["APP_ENV"] = env_name
    return settings
