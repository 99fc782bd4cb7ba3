"""Unbound extension singletons; create_app() binds them to an application."""
import threading
from urllib.parse import unquote, urlsplit

import redis
from flask import current_app
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.cluster import ClusterNode, RedisCluster
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


# A Redis URL of this scheme names a Redis Cluster by some of its nodes (the rest are discovered):
# redis+cluster://[user:password@]host:port[,host:port...], the scheme flask-limiter's storage
# (the limits library) reads too, so one REDIS_URL serves the gate, sessions and the limiter.
CLUSTER_SCHEME = "redis+cluster"

def is_cluster_url(url):
    return urlsplit(url).scheme == CLUSTER_SCHEME


def connect(url, **options):
    """A client for a plain Redis URL or a redis+cluster:// URL; neither connects before its first command."""
    if not is_cluster_url(url):
        return redis.Redis.from_url(url, **options)
    parts = urlsplit(url)
    userinfo, _, hosts = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    nodes = []
    for location in hosts.split(","):
        host, _, port = location.strip().rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"{CLUSTER_SCHEME} URL needs host:port for every node, got {location!r}")
        nodes.append(ClusterNode(host, int(port)))
    credentials = {"username": unquote(user) or None, "password": unquote(password) or None}
    return LazyCluster(startup_nodes=nodes, **credentials, **options)


class LazyCluster:
    """RedisCluster asks its nodes for the slot map as it is built, and fails if none answers. A web
    process must start while Redis is down (readiness says so, requests get 503), as it does with a
    plain Redis, so the cluster client is built at its first command, and again after a failed build."""

    def __init__(self, **options):
        self._options = options
        self._cluster = None
        self._lock = threading.Lock()

    @property
    def cluster(self):
        if self._cluster is None:
            with self._lock:
                if self._cluster is None:
                    try:
                        self._cluster = RedisCluster(**self._options)
                    except redis.exceptions.RedisClusterException as error:  # no node answered
                        raise redis.exceptions.ConnectionError(str(error)) from error
        return self._cluster

    def close(self):
        if self._cluster is not None:
            self._cluster.close()

    def __getattr__(self, name):
        return getattr(self.cluster, name)


class RedisClient:
    """The current app's redis-py client (one per app, so tests can build an app
    pointed at a dead Redis beside a healthy one). Fails fast: a dead Redis is a 503.
    REDIS_URL names one Redis or, with the redis+cluster scheme, a Redis Cluster."""

    def init_app(self, app):
        url = app.config["REDIS_URL"]
        timeout = app.config["REDIS_SOCKET_TIMEOUT"]
        options = dict(socket_timeout=timeout, socket_connect_timeout=timeout, health_check_interval=30,
                       decode_responses=True)
        # Few, quick retries: a dead Redis must become a fast 503. Retries
        # re-run Lua scripts, which is why every seat take carries a hold id.
        app.extensions["evently_redis"] = connect(
            url, **options, retry=Retry(ExponentialBackoff(cap=0.1, base=0.01), app.config["REDIS_RETRIES"]))
        # For reads that have another source to fall back on (a session's liveness, kept in
        # PostgreSQL): one attempt, so a stalled Redis costs them one timeout, not three.
        app.extensions["evently_redis_one_try"] = connect(url, **options, retry=Retry(NoBackoff(), 0))

    @property
    def client(self):
        return current_app.extensions["evently_redis"]

    @property
    def one_try(self):
        return current_app.extensions["evently_redis_one_try"]

    def __getattr__(self, name):
        return getattr(self.client, name)


redis_client = RedisClient()
