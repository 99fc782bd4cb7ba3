"""Test fixtures on real PostgreSQL and Redis.

The test database is dropped, recreated and built by running the migrations
once per session. Tests commit for real (services own their transactions, and
race tests use many connections), so every table is truncated and the test
Redis DB flushed after each test. TEST_DATABASE_URL / TEST_REDIS_URL pick
other instances so that parallel runs never share state.

Every error answer of a documented operation is checked against the OpenAPI document
(tests/openapi_truth.py): a test that makes an operation answer a code its document does not
list fails.
"""
import os
from pathlib import Path

import pytest
import redis
from flask_migrate import upgrade
from sqlalchemy import text

from evently import create_app
from evently.dbsetup import recreate_database
from evently.extensions import db, redis_client
from evently.notifications import relay
from evently.seats import holds
from tests import factories, openapi_truth
from tests.waiting import wait_until

TESTS = Path(__file__).resolve().parent
TRUTH_CHECK = "tests/test_openapi_truth.py::test_every_documented_error_code_is_answered_by_its_operation"
_DESELECTED = []

openapi_truth.watch()


@pytest.fixture(scope="session")
def app():
    app = create_app("testing")
    recreate_database(app.config["SQLALCHEMY_DATABASE_URI"])
    with app.app_context():
        upgrade(directory=os.path.join(os.path.dirname(os.path.dirname(__file__)), "migrations"))
        db.engine.dispose()
    openapi_truth.learn(app.test_client().get("/api/openapi.json").get_json())
    yield app
    with app.app_context():
        db.engine.dispose()


def all_tables():
    return [table.name for table in db.metadata.sorted_tables]


@pytest.fixture(autouse=True)
def clean_state(app):
    with app.app_context():
        redis_client.flushdb()
    yield
    # Send what the relay still holds now, so no late batch lands in the next test's broker.
    app.extensions[relay.EXTENSION].flush()
    if app.extensions.get(holds.FINISHER) is not None:
        app.extensions[holds.FINISHER].flush()
    with app.app_context():
        db.session.remove()
        with db.engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {', '.join(all_tables())} RESTART IDENTITY CASCADE"))
        redis_client.flushdb()


@pytest.fixture(autouse=True)
def only_documented_error_codes():
    """Fails the test during which a documented operation answered an undocumented error code."""
    mark = openapi_truth.violation_mark()
    yield
    found = openapi_truth.violations_since(mark)
    if found:
        pytest.fail(openapi_truth.describe_violations(found), pytrace=False)


def pytest_deselected(items):
    _DESELECTED.extend(items)


def pytest_collection_modifyitems(items):
    """The check that every documented code was answered runs after every test that could answer it."""
    items.sort(key=lambda item: item.nodeid == TRUTH_CHECK)


def pytest_collection_finish(session):
    openapi_truth.RECORD.whole_suite = whole_default_suite(session)


def whole_default_suite(session):
    """Whether this run is at least `make test`'s: every test file collected, nothing left out but
    the slow and browser tests, in one process (an xdist worker sees only its share)."""
    if hasattr(session.config, "workerinput"):
        return False
    if any(not {"slow", "browser"} & {mark.name for mark in item.iter_markers()} for item in _DESELECTED):
        return False
    collected = {Path(item.path) for item in [*session.items, *_DESELECTED]}
    return set(TESTS.rglob("test_*.py")) <= collected


@pytest.fixture
def app_ctx(app):
    with app.app_context():
        yield app
        db.session.remove()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def user(app_ctx):
    return factories.make_user()


@pytest.fixture
def admin(app_ctx):
    return factories.make_user(role="admin", email="admin@example.com")


@pytest.fixture
def user_headers(user):
    return factories.auth_headers(user)


@pytest.fixture
def admin_headers(admin):
    return factories.auth_headers(admin)


@pytest.fixture
def celery_worker(app):
    """A real Celery worker (threads) consuming this app's broker, never eager mode."""
    from celery.contrib.testing.worker import start_worker

    celery = app.extensions["celery"]
    with start_worker(celery, pool="threads", concurrency=2, perform_ping_check=False,
                      loglevel="WARNING", shutdown_timeout=20):
        yield celery
        # The relay sends its batches up to a linger after the test's last commit: let the
        # worker take and finish them, or a delivery would run into the next test's cleanup.
        app.extensions[relay.EXTENSION].flush()
        broker = redis.Redis.from_url(celery.conf.broker_url)
        queue = app.config["CELERY_QUEUE"]
        wait_until(lambda: broker.llen(queue) == 0 and broker.hlen("unacked") == 0,
                   message="the worker finished every task the test sent")
        broker.close()


@pytest.fixture
def smtp_server(app):
    """A real SMTP server on loopback standing in for the outside world's mail relay."""
    from tests.smtp import CapturingSMTP

    server = CapturingSMTP().start()
    app.config["SMTP_URL"] = server.url
    yield server
    app.config["SMTP_URL"] = None
    server.stop()
