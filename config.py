"""Configuration: one class per environment, every value from the environment.

A `.env` file beside this one is read first if present (python-dotenv); real
environment variables win over it.
"""
import os
from datetime import timedelta
from urllib.parse import urlsplit

import simplejson
from dotenv import load_dotenv

load_dotenv(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".env"))

# The documented development admin password: refused in production and beyond loopback
# (evently/secret_keys.py). The signing secrets have no default: see that module.
DEV_ADMIN_PASSWORD = "admin-password-change-me"


def env(name, default=None):
    return os.environ.get(name, default)


def env_bool(name, default):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name, default):
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def database_url(url):
    """SQLAlchemy 2.1 maps postgresql:// to psycopg 3; Evently runs on psycopg2."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix):]
    return url


def env_list(name, default=""):
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def queue_for(database_url):
    """The Celery queue of the stack that uses this database, named after the database.

    A task carries ids of rows in one database, so only that database's workers may
    take it: two stacks sharing a Redis DB with different databases never share a
    queue (evently -> "evently", evently_h19 -> "evently_h19")."""
    return urlsplit(database_url).path.lstrip("/") or "evently"


class Config:
    ENV_NAME = "development"
    TESTING = False
    # Unset in development and tests: generated once into the instance folder (evently/secret_keys.py).
    SECRET_KEY = env("SECRET_KEY")

    SQLALCHEMY_DATABASE_URI = database_url(env("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/evently"))
    SQLALCHEMY_ENGINE_OPTIONS = {
        # Only connections idle a while are pinged before use (evently/common/pool.py).
        "pool_pre_ping": False,
        "pool_size": env_int("DB_POOL_SIZE", 10),
        "max_overflow": env_int("DB_MAX_OVERFLOW", 10),
        "pool_timeout": 5,
        # A statement that hangs must not hold an event row lock forever.
        "connect_args": {"options": "-c statement_timeout=10000 -c lock_timeout=5000", "connect_timeout": 5},
        # JSONB keeps money exact (stored idempotent responses replay 25.00, not 25.0).
        "json_serializer": lambda value: simplejson.dumps(value, use_decimal=True),
        "json_deserializer": lambda text: simplejson.loads(text, use_decimal=True),
    }
    REDIS_URL = env("REDIS_URL", "redis://127.0.0.1:6379/0")
    # Seconds a Redis call may take before the API answers 503 instead of waiting.
    REDIS_SOCKET_TIMEOUT = float(env("REDIS_SOCKET_TIMEOUT", "0.5"))
    REDIS_RETRIES = env_int("REDIS_RETRIES", 2)

    JWT_SECRET_KEY = env("JWT_SECRET_KEY")
    JWT_ALGORITHM = "HS256"
    JWT_DECODE_ALGORITHMS = ["HS256"]
    JWT_ACCESS_TOKEN_EXPIRES = timedelta(minutes=env_int("JWT_ACCESS_MINUTES", 15))
    JWT_REFRESH_TOKEN_EXPIRES = timedelta(days=env_int("JWT_REFRESH_DAYS", 14))
    JWT_TOKEN_LOCATION = ["headers"]
    # How long Redis may answer "this session is live" before PostgreSQL is asked again; also the
    # longest a session ended while Redis was unreachable can go on being accepted (evently/auth/liveness.py).
    SESSION_CACHE_SECONDS = env_int("SESSION_CACHE_SECONDS", 300)

    CORS_ORIGINS = env_list("CORS_ORIGINS", "http://localhost:3000")

    RATELIMIT_ENABLED = env_bool("RATELIMIT_ENABLED", True)
    # One budget per client shared by every route (flask-limiter's application limit); a
    # per-route default would give a client 600 a minute on each route it can name.
    RATELIMIT_APPLICATION = env("RATELIMIT_DEFAULT", "600 per minute")
    RATELIMIT_AUTH = env("RATELIMIT_AUTH", "10 per minute")
    RATELIMIT_STORAGE_URI = env("RATELIMIT_STORAGE_URI", env("REDIS_URL", "redis://127.0.0.1:6379/0"))
    # Number of reverse proxies in front of the API whose X-Forwarded-For is trusted.
    TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
    # Networks (CIDR, comma-separated) besides loopback that may read /metrics.
    METRICS_ALLOWED_NETWORKS = env_list("METRICS_ALLOWED_NETWORKS", "")

    # Per-account login throttle, counted in PostgreSQL so it holds while Redis is down
    # (evently/auth/throttle.py): this many failed attempts within the window lock the
    # account's logins until the window ends.
    LOGIN_MAX_FAILURES = env_int("LOGIN_MAX_FAILURES", 10)
    LOGIN_FAILURE_WINDOW_SECONDS = env_int("LOGIN_FAILURE_WINDOW_SECONDS", 15 * 60)
    PASSWORD_RESET_MINUTES = env_int("PASSWORD_RESET_MINUTES", 30)
    PASSWORD_RESET_MAX_PER_HOUR = env_int("PASSWORD_RESET_MAX_PER_HOUR", 3)
    # Put before the token in the reset mail (e.g. https://app.example.com/reset?token=); empty: the bare token.
    PASSWORD_RESET_URL = env("PASSWORD_RESET_URL", "")

    MAX_CONTENT_LENGTH = env_int("MAX_CONTENT_LENGTH", 1024 * 1024)

    EVENTLY_ADMIN_EMAIL = env("EVENTLY_ADMIN_EMAIL", "admin@evently.local")
    EVENTLY_ADMIN_PASSWORD = env("EVENTLY_ADMIN_PASSWORD", DEV_ADMIN_PASSWORD)
    SMTP_URL = env("SMTP_URL")
    MAIL_FROM = env("MAIL_FROM", "Evently <no-reply@evently.local>")

    # Booking engine.
    # redis (the Lua gate) | pglock (decide under a PostgreSQL row lock: the benchmark's baseline). Read once at start-up.
    BOOKING_STRATEGY = env("BOOKING_STRATEGY", "redis")
    DEFAULT_MAX_PER_BOOKING = env_int("DEFAULT_MAX_PER_BOOKING", 10)
    HOLD_TTL_SECONDS = env_int("HOLD_TTL_SECONDS", 30)
    RECONCILE_INTERVAL_SECONDS = env_int("RECONCILE_INTERVAL_SECONDS", 30)
    OUTBOX_SWEEP_SECONDS = env_int("OUTBOX_SWEEP_SECONDS", 10)
    NOTIFICATION_MAX_ATTEMPTS = env_int("NOTIFICATION_MAX_ATTEMPTS", 8)
    # How long each process lets committed notifications gather into one Celery task (evently/notifications/relay.py):
    # long enough to batch a flash sale's confirmations, short for mail (measured: docs/benchmarks.md).
    NOTIFICATION_RELAY_LINGER_MS = env_int("NOTIFICATION_RELAY_LINGER_MS", 500)
    # Seconds before a message whose worker died is delivered again (see evently/celery_app.py).
    CELERY_VISIBILITY_TIMEOUT = env_int("CELERY_VISIBILITY_TIMEOUT", 60)
    ANALYTICS_ROLLUP_SECONDS = env_int("ANALYTICS_ROLLUP_SECONDS", 60)
    # Reminders: how long before an event's start each confirmed booking is reminded, and how
    # often beat looks for reminders due (evently/notifications/reminders.py).
    REMINDER_LEAD_HOURS = float(env("REMINDER_LEAD_HOURS", "24"))
    REMINDER_INTERVAL_SECONDS = env_int("REMINDER_INTERVAL_SECONDS", 60)
    # How long each web process reuses a rendered public event list (evently/events/list_cache.py).
    EVENT_LIST_CACHE_SECONDS = float(env("EVENT_LIST_CACHE_SECONDS", "1"))
    # How long each process gathers the holds of committed bookings before dropping them from Redis in one
    # batch (evently/seats/holds.py); 0 drops each at once.
    HOLD_FINISH_LINGER_MS = env_int("HOLD_FINISH_LINGER_MS", 50)
    # How long each web process reuses what a booking reads of an event (evently/seats/admission.py).
    EVENT_CACHE_SECONDS = float(env("EVENT_CACHE_SECONDS", "1"))

    # Celery's broker needs one Redis server (kombu's Redis transport is not Cluster-aware): with a
    # redis+cluster:// REDIS_URL, CELERY_BROKER_URL names a plain Redis of its own (docs/scaling.md).
    CELERY = {
        "broker_url": env("CELERY_BROKER_URL", REDIS_URL),
        "result_backend": env("CELERY_RESULT_BACKEND", env("CELERY_BROKER_URL", REDIS_URL)),
    }
    # Bookings' tasks go to CELERY_QUEUE, beat's periodic maintenance to "<CELERY_QUEUE>.maintenance".
    CELERY_QUEUE = env("CELERY_QUEUE") or queue_for(SQLALCHEMY_DATABASE_URI)
    # Where each Celery worker serves its Prometheus metrics (0: nowhere); see docs/observability.md.
    WORKER_METRICS_PORT = env_int("WORKER_METRICS_PORT", 5556)
    MAINTENANCE_METRICS_PORT = env_int("MAINTENANCE_METRICS_PORT", 5557)
    METRICS_HOST = env("HOST", "127.0.0.1")

    API_TITLE = "Evently API"
    API_VERSION = "1.0.0"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api"
    OPENAPI_JSON_PATH = "openapi.json"
    JSON_SORT_KEYS = False
    LOG_LEVEL = env("LOG_LEVEL", "INFO")


class DevelopmentConfig(Config):
    pass


class TestingConfig(Config):
    ENV_NAME = "testing"
    TESTING = True
    SQLALCHEMY_DATABASE_URI = database_url(env("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/evently_test"))
    REDIS_URL = env("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    RATELIMIT_STORAGE_URI = REDIS_URL
    RATELIMIT_ENABLED = env_bool("TEST_RATELIMIT_ENABLED", False)
    CELERY = {"broker_url": env("TEST_CELERY_BROKER_URL", REDIS_URL),
              "result_backend": env("TEST_CELERY_BROKER_URL", REDIS_URL)}
    CELERY_QUEUE = queue_for(SQLALCHEMY_DATABASE_URI)
    # Test workers serve no metrics unless a test asks for a port.
    WORKER_METRICS_PORT = env_int("TEST_WORKER_METRICS_PORT", 0)
    MAINTENANCE_METRICS_PORT = env_int("TEST_MAINTENANCE_METRICS_PORT", 0)
    EVENTLY_ADMIN_EMAIL = None  # tests make their own admins
    # Tests read their own writes on the list; tests/events/test_list_cache.py turns it on.
    EVENT_LIST_CACHE_SECONDS = float(env("TEST_EVENT_LIST_CACHE_SECONDS", "0"))
    # Tests read the gate right after a booking; tests/seats/test_hold_finisher.py turns batching on.
    HOLD_FINISH_LINGER_MS = env_int("TEST_HOLD_FINISH_LINGER_MS", 0)
    # Tests change events and book at once; tests/seats/test_event_cache.py turns it on.
    EVENT_CACHE_SECONDS = float(env("TEST_EVENT_CACHE_SECONDS", "0"))
    LOG_LEVEL = "WARNING"


class ProductionConfig(Config):
    ENV_NAME = "production"
    EVENTLY_ADMIN_PASSWORD = env("EVENTLY_ADMIN_PASSWORD")


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def get_config(name=None):
    return CONFIGS[(name or env("EVENTLY_ENV", "development")).lower()]
