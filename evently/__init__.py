"""Evently: the application factory."""
from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from config import get_config
from evently import secret_keys
from evently.http import JSONProvider, NoCookieSessions


def create_app(config_name=None, **overrides):
    app = Flask(__name__)
    app.json = JSONProvider(app)
    app.session_interface = NoCookieSessions()
    config = get_config(config_name)
    app.config.from_object(config)
    app.config.update(overrides)
    secret_keys.init_app(app)

    from evently import logs

    logs.configure(app)
    register_extensions(app)
    register_engine(app)
    register_celery(app)
    register_blueprints(app)
    register_errors(app)
    register_hooks(app)
    register_cli(app)
    if app.config["TRUSTED_PROXY_COUNT"] > 0:
        proxies = app.config["TRUSTED_PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
    return app


def register_extensions(app):
    from evently.extensions import api, cors, db, jwt, limiter, migrate, redis_client

    db.init_app(app)
    import_models()
    migrate.init_app(app, db, directory=app.config.get("MIGRATIONS_DIR", "migrations"))
    jwt.init_app(app)
    redis_client.init_app(app)
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    # flask-limiter would put Retry-After on every response; only 429 and 503 should carry it.
    app.config.setdefault("RATELIMIT_HEADER_RETRY_AFTER", "X-RateLimit-Retry-After")
    limiter.init_app(app)
    # Only configured origins; flask-cors never echoes an arbitrary Origin with this list.
    # `Vary: Origin` goes on every /api response from evently.security: flask-cors would add it
    # only when several origins are configured, and a second copy beside ours.
    cors.init_app(app, resources={r"/api/*": {"origins": app.config["CORS_ORIGINS"]}},
                  expose_headers=["X-Request-ID", "Retry-After"], supports_credentials=False, vary_header=False)
    api.init_app(app)
    app.teardown_appcontext(close_session_safely)
    from evently.auth import tokens  # noqa: F401  registers the JWT callbacks
    from evently.common import after_commit  # noqa: F401  registers the session hooks
    from evently.common import pool  # noqa: F401  pings pooled connections that sat idle


def close_session_safely(_error=None):
    """End the request's session even if its connection died under it
    (pg_terminate_backend, a failover): a failed rollback must not turn an
    answered request into a crash. Runs before Flask-SQLAlchemy's own teardown."""
    from evently.extensions import db

    try:
        db.session.remove()
    except Exception:  # noqa: BLE001 - the connection is gone; invalidate it and let the pool replace it
        db.session().invalidate()
        db.session.remove()


def register_engine(app):
    """Per-app state of the domains: the seat engine's strategy, the list cache, the notification relay."""
    from evently import seats
    from evently.events import list_cache
    from evently.notifications import relay

    seats.init_app(app)
    list_cache.init_app(app)
    relay.init_app(app)


def register_celery(app):
    from evently.celery_app import init_celery

    init_celery(app)


def register_blueprints(app):
    from evently.extensions import api
    from evently.ops.docs import ui as swagger_ui
    from evently.ops.routes import blp as ops_blp

    for blueprint in discover_api_blueprints():
        api.register_blueprint(blueprint)
    app.register_blueprint(ops_blp)
    app.register_blueprint(swagger_ui)


def discover_api_blueprints():
    from evently.analytics.routes import blp as analytics
    from evently.audit.routes import blp as audit
    from evently.auth.routes import blp as auth
    from evently.bookings.routes import blp as bookings
    from evently.events.routes import blp as events
    from evently.ops.docs import blp as index
    from evently.tickets.routes import blp as tickets
    from evently.waitlist.routes import blp as waitlist

    return [index, auth, events, bookings, tickets, waitlist, analytics, audit]


def register_errors(app):
    from evently.errors import register_error_handlers

    register_error_handlers(app)


def register_hooks(app):
    from evently import security

    security.init_app(app)


def register_cli(app):
    from evently import cli

    cli.init_app(app)


# Importing models here lets Alembic and the CLI see the whole schema.
def import_models():
    from evently.analytics import models as _analytics  # noqa: F401
    from evently.audit import models as _audit  # noqa: F401
    from evently.auth import models as _auth  # noqa: F401
    from evently.bookings import models as _bookings  # noqa: F401
    from evently.events import models as _events  # noqa: F401
    from evently.notifications import models as _notifications  # noqa: F401
    from evently.seats import models as _seats  # noqa: F401
    from evently.tickets import models as _tickets  # noqa: F401
    from evently.waitlist import models as _waitlist  # noqa: F401
