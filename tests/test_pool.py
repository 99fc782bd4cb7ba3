"""Pooled PostgreSQL connections: pinged before use only after sitting idle; a cut busy one
costs one 503, then the pool is fresh (SQLAlchemy's optimistic disconnect handling).
Requests here run outside a test's app context, as under gunicorn, so each checks a
connection out of the pool and back in."""
from contextlib import closing

import psycopg2
from sqlalchemy import event as sa_event
from sqlalchemy.engine import make_url

from evently.common import pool
from evently.extensions import db
from tests import factories


def terminate_the_apps_connections(app):
    """From a connection outside the app's pool: every pooled one is cut."""
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    with closing(psycopg2.connect(host=url.host, port=url.port, user=url.username, dbname=url.database)) as outside:
        outside.autocommit = True
        with outside.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                           "WHERE datname = current_database() AND pid <> pg_backend_pid()")


def an_event(app):
    with app.app_context():
        event_id = factories.make_event().id
        db.session.remove()
        return event_id


def test_an_idle_connection_cut_meanwhile_is_replaced_before_use(app, client, monkeypatch):
    event_id = an_event(app)
    assert client.get(f"/api/events/{event_id}").status_code == 200
    terminate_the_apps_connections(app)
    monkeypatch.setattr(pool, "IDLE_PING_SECONDS", 0.0)  # every pooled connection counts as idle

    assert [client.get(f"/api/events/{event_id}").status_code for _ in range(3)] == [200, 200, 200]


def test_without_the_idle_ping_a_cut_connection_is_a_503_once(app, client, monkeypatch):
    """The negative control: the same cut, nobody pings; SQLAlchemy then renews the pool."""
    event_id = an_event(app)
    assert client.get(f"/api/events/{event_id}").status_code == 200
    terminate_the_apps_connections(app)
    monkeypatch.setattr(pool, "IDLE_PING_SECONDS", 3600.0)

    answers = [client.get(f"/api/events/{event_id}").status_code for _ in range(3)]

    assert answers[0] == 503 and answers[1:] == [200, 200]


def test_a_busy_connection_is_not_pinged(app, client, monkeypatch):
    event_id = an_event(app)
    monkeypatch.setattr(pool, "IDLE_PING_SECONDS", 3600.0)
    statements = []
    with app.app_context():
        engine = db.engine
    listener = lambda _conn, _cursor, statement, *_args: statements.append(statement)  # noqa: E731
    sa_event.listen(engine, "before_cursor_execute", listener)
    try:
        for _ in range(3):
            assert client.get(f"/api/events/{event_id}").status_code == 200
    finally:
        sa_event.remove(engine, "before_cursor_execute", listener)
    assert statements and "SELECT 1" not in [statement.strip() for statement in statements]
