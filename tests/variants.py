"""A second application built with other settings (rate limiting on, a dead Redis, production...).

create_app() binds module-level singletons (the limiter and its default limits,
the Redis client, the OpenAPI spec, Celery's default app) to the app it builds last. `other_app`
restores them to the session app afterwards so later tests are unaffected.
"""
import contextlib

from evently import create_app
from evently.extensions import api, db, limiter, redis_client

DEAD_REDIS = "redis://127.0.0.1:1/0"


@contextlib.contextmanager
def other_app(session_app, config_name="testing", **overrides):
    saved = {obj: dict(vars(obj)) for obj in (limiter, limiter.limit_manager, api, redis_client)}
    other = None
    try:
        other = create_app(config_name, **overrides)
        yield other
    finally:
        if other is not None and "sqlalchemy" in other.extensions:
            with other.app_context():
                db.engine.dispose()
        if other is not None and "evently_redis" in other.extensions:
            other.extensions["evently_redis"].close()
        for obj, state in saved.items():
            vars(obj).clear()
            vars(obj).update(state)
        # Celery keeps both a process default and a thread's current app; each new app takes both.
        session_app.extensions["celery"].set_default()
        session_app.extensions["celery"].set_current()
