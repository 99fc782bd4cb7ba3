"""The public event list's per-process cache (evently/events/list_cache.py), switched on here
(the test config turns it off so other tests read their own writes)."""
import time
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from evently.common.ttl_cache import LockedTTLCache
from evently.extensions import db
from tests.factories import auth_headers, make_event, make_user

TTL = 0.5


@pytest.fixture
def list_cache(app, monkeypatch):
    cache = LockedTTLCache(seconds=TTL, max_entries=512)
    monkeypatch.setitem(app.extensions, "evently_list_cache", cache)
    return cache


def titles(response):
    assert response.status_code == 200, response.get_json()
    return [event["title"] for event in response.get_json()["data"]]


def test_public_list_is_served_from_the_cache_until_it_expires(client, app_ctx, list_cache):
    make_event(title="First")
    first = client.get("/api/events")
    make_event(title="Second")

    cached = client.get("/api/events")
    assert titles(cached) == ["First"]
    assert cached.get_data() == first.get_data()
    assert cached.headers["Content-Type"] == "application/json"
    assert cached.headers["X-Request-ID"] != first.headers["X-Request-ID"]  # the hooks still run
    assert cached.headers["X-Content-Type-Options"] == "nosniff"

    time.sleep(TTL + 0.1)
    assert titles(client.get("/api/events")) == ["First", "Second"]


def test_each_query_has_its_own_entry(client, app_ctx, list_cache):
    make_event(title="Jazz night", venue="Hall A")
    make_event(title="Rock night", venue="Hall B")
    assert titles(client.get("/api/events?venue=Hall%20A")) == ["Jazz night"]
    assert titles(client.get("/api/events?q=rock")) == ["Rock night"]
    assert titles(client.get("/api/events?perPage=1&page=2")) == ["Rock night"]
    assert titles(client.get("/api/events?venue=Hall%20A")) == ["Jazz night"]


def test_the_admin_status_view_is_never_cached(client, app_ctx, list_cache):
    admin = make_user(role="admin")
    headers = auth_headers(admin)
    make_event(title="Draft one", status="draft")
    assert titles(client.get("/api/events?status=draft", headers=headers)) == ["Draft one"]
    make_event(title="Draft two", status="draft")
    assert titles(client.get("/api/events?status=draft", headers=headers)) == ["Draft one", "Draft two"]


def test_a_cached_page_still_refuses_bad_tokens_and_bad_queries(client, app_ctx, list_cache):
    make_event(title="Cached")
    assert titles(client.get("/api/events")) == ["Cached"]
    response = client.get("/api/events", headers={"Authorization": "Bearer not-a-token"})
    assert response.status_code == 401
    response = client.get("/api/events?perPage=0")
    assert response.status_code == 400
    user = make_user()
    response = client.get("/api/events?status=all", headers=auth_headers(user))
    assert response.status_code == 403


def test_a_miss_with_a_token_checks_it_once(client, app_ctx, list_cache):
    """The cache checks the token before its view does; the view reuses that answer
    instead of reading the token's session a second time."""
    make_event(title="Listed")
    headers = auth_headers(make_user())
    with statements_run() as statements:
        assert titles(client.get("/api/events", headers=headers)) == ["Listed"]  # a miss
    assert sum("auth_sessions" in statement for statement in statements) == 1


@contextmanager
def statements_run():
    statements = []

    def record(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def test_off_when_the_setting_is_zero(client, app_ctx, app):
    assert app.extensions["evently_list_cache"] is None  # the test config's EVENT_LIST_CACHE_SECONDS=0
    make_event(title="One")
    assert titles(client.get("/api/events")) == ["One"]
    make_event(title="Two")
    assert titles(client.get("/api/events")) == ["One", "Two"]
