"""Unbound extension singletons; create_app() binds them to an application."""
import redis
from flask import current_app
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.retry import Retry
from flask_cors import CORS
from flask_jwt_extended import JWTManager
from flask_limiter import Limiter
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData

from evently.http import Api, client_address

# Stable constraint names so Alembic autogenerate and hand-written migrations agree.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING_CONVENTION))
migrate = Migrate()
jwt = JWTManager()
cors = CORS()
api = Api()
# Redis outages must not turn every request into a 500: the limiter falls back
# to per-process memory and keeps limiting (flask-limiter's default raises).
limiter = Limiter(key_func=client_address, in_memory_fallback_enabled=True, swallow_errors=True)


class RedisClient:
    """The current app's redis-py client (one per app, so tests can build an app
    pointed at a dead Redis beside a healthy one). Fails fast: a dead Redis is a 503."""

    def init_app(self, app):
        timeout = app.config["REDIS_SOCKET_TIMEOUT"]
        options = dict(socket_timeout=timeout, socket_connect_timeout=timeout, health_check_interval=30,
                       decode_responses=True)
        app.extensions["evently_redis"] = redis.Redis.from_url(
            app.config["REDIS_URL"], **options,
            # Few, quick retries: a dead Redis must become a fast 503. Retries
            # re-run Lua scripts, which is why every seat take carries a hold id.
            retry=Retry(ExponentialBackoff(cap=0.1, base=0.01), app.config["REDIS_RETRIES"]))
        # For reads that have another source to fall back on (a session's liveness, kept in
        # PostgreSQL): one attempt, so a stalled Redis costs them one timeout, not three.
        app.extensions["evently_redis_one_try"] = redis.Redis.from_url(
            app.config["REDIS_URL"], **options, retry=Retry(NoBackoff(), 0))

    @property
    def client(self):
        return current_app.extensions["evently_redis"]

    @property
    def one_try(self):
        return current_app.extensions["evently_redis_one_try"]

    def __getattr__(self, name):
        return getattr(self.client, name)


redis_client = RedisClient()
