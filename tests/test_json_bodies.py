"""JSON that parses but cannot be trusted: integers too long to convert, duplicate keys, NaN and
infinities. Every route that reads a body answers 400 VALIDATION_ERROR, logs no error and writes
nothing; the unauthenticated ones included, where the issue found a 500 and a traceback per request."""
import logging

import pytest

from tests.fuzz.helpers import assert_envelope, row_counts, seed_world

HUGE_INTEGER = "9" * 5000  # Python refuses to convert more than 4,300 digits


@pytest.fixture
def world(app_ctx):
    return seed_world()


def writes(world):
    """(method, path, headers, a valid body as JSON text with a `{value}` slot) for each body-taking route."""
    return [
        ("POST", "/api/auth/login", {}, '{"email": "a@example.com", "password": "x", "extra": {value}}'),
        ("POST", "/api/auth/register", {}, '{"email": "n@example.com", "password": "longenough1", "name": {value}}'),
        ("POST", "/api/auth/password-reset", {}, '{"email": {value}}'),
        ("POST", "/api/auth/password-reset/confirm", {}, '{"token": {value}, "password": "longenough1"}'),
        ("POST", "/api/auth/password", world.user_headers, '{"currentPassword": {value}, "newPassword": "x"}'),
        ("POST", "/api/bookings", world.user_headers, f'{{"eventId": {world.event_id}, "quantity": {{value}}}}'),
        ("POST", "/api/waitlist", world.user_headers, f'{{"eventId": {world.full_event_id}, "quantity": {{value}}}}'),
        ("POST", "/api/events", world.admin_headers, '{"title": "T", "venue": "V", "capacity": {value}}'),
        ("PUT", f"/api/events/{world.event_id}", world.admin_headers, '{"capacity": {value}}'),
    ]


@pytest.mark.parametrize("value, complaint", [
    (HUGE_INTEGER, "at most 100 digits"),
    ("-" + HUGE_INTEGER, "at most 100 digits"),
    ("1e400", "finite"),
    ("NaN", "NaN is not JSON"),
    ("-Infinity", "-Infinity is not JSON"),
])
def test_numbers_python_cannot_take_are_400(client, world, caplog, value, complaint):
    before = row_counts()
    for method, path, headers, template in writes(world):
        response = client.open(path, method=method, headers=headers, content_type="application/json",
                               data=template.replace("{value}", value))
        body = assert_envelope(response, 400, "VALIDATION_ERROR")
        assert any(complaint in message for message in body["error"]["details"]["_schema"]), (path, body)
    assert row_counts() == before
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


def test_a_duplicate_key_is_400_at_any_depth(client, world):
    before = row_counts()
    for method, path, headers, template in writes(world):
        for duplicated in (template.replace("{value}", '1, "dup": 1, "dup": 2'),
                           template.replace("{value}", '{"a": 1, "a": 1}')):
            response = client.open(path, method=method, headers=headers, content_type="application/json",
                                   data=duplicated)
            body = assert_envelope(response, 400, "VALIDATION_ERROR")
            assert body["error"]["details"]["_schema"] == [
                f"The key {'dup' if 'dup' in duplicated else 'a'!r} appears more than once in one object."]
    assert row_counts() == before


def test_the_last_key_no_longer_wins(client, world):
    """The attack the rule stops: a proxy or a signature sees the first value, the app the last."""
    response = client.post("/api/bookings", headers=world.user_headers, content_type="application/json",
                           data=f'{{"eventId": {world.event_id}, "quantity": 1, "quantity": 9}}')

    assert_envelope(response, 400, "VALIDATION_ERROR")


def test_a_hundred_digit_integer_still_reaches_validation(client, world):
    response = client.post("/api/bookings", headers=world.user_headers, content_type="application/json",
                           data=f'{{"eventId": {world.event_id}, "quantity": {"9" * 100}}}')

    body = assert_envelope(response, 400, "VALIDATION_ERROR")
    assert "quantity" in body["error"]["details"]
