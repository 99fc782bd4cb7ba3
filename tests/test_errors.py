"""Every failure, whoever raises it, is the one JSON envelope with the right status; never HTML, never a trace."""
import contextlib
import io
import json

import marshmallow as ma
import pytest
from sqlalchemy import select

from evently.auth.models import User
from evently.errors import SeatsAvailable
from evently.extensions import api, db, redis_client
from evently.http import Blueprint, Schema
from tests import factories
from tests.variants import DEAD_REDIS, other_app

VALID = {"email": "ada@example.com", "password": "longenough1", "name": "Ada"}


def assert_envelope(response, status, code):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    text = response.get_data(as_text=True)
    assert "<html" not in text.lower() and "Traceback" not in text and 'File "' not in text
    body = response.get_json()
    assert set(body) == {"message", "error"}, body
    assert set(body["error"]) == {"code", "details"}
    assert body["error"]["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["error"]["details"], dict)
    return body


class ProbeSchema(Schema):
    starts_at = ma.fields.Integer(required=True)
    per_page = ma.fields.Integer(validate=ma.validate.Range(min=1, max=100))


@contextlib.contextmanager
def probe_app(session_app, **overrides):
    """An app with a few extra routes that fail the ways real code does."""
    with other_app(session_app, **overrides) as app:
        api.register_blueprint(probe_blueprint())
        yield app


def probe_blueprint():
    blp = Blueprint("probe", __name__, url_prefix="/api/probe")

    @blp.post("/body")
    @blp.arguments(ProbeSchema)
    def body(data):
        return {"message": "ok", "data": data}

    @blp.get("/query")
    @blp.arguments(ProbeSchema, location="query")
    def query(args):
        return {"message": "ok", "data": args}

    @blp.get("/redis")
    def needs_redis():
        return {"message": "ok", "data": {"value": redis_client.get("anything")}}

    @blp.get("/conflict")
    def conflict():
        raise SeatsAvailable(details={"available": 3})

    @blp.get("/bug")
    def bug():
        raise RuntimeError("secret internals /etc/passwd")

    return blp


@pytest.fixture
def probe(app):
    with probe_app(app) as probe:
        yield probe.test_client()


# --- 400 -----------------------------------------------------------------------------------


def test_validation_details_are_keyed_by_camel_case_field(probe):
    body = assert_envelope(probe.post("/api/probe/body", json={"perPage": 500}), 400, "VALIDATION_ERROR")

    assert set(body["error"]["details"]) == {"startsAt", "perPage"}
    assert body["error"]["details"]["startsAt"] == ["Missing data for required field."]


def test_snake_case_keys_are_unknown_fields(probe):
    body = assert_envelope(probe.post("/api/probe/body", json={"starts_at": 1}), 400, "VALIDATION_ERROR")

    assert set(body["error"]["details"]) == {"starts_at", "startsAt"}
    assert body["error"]["details"]["starts_at"] == ["Unknown field."]


def test_query_string_validation_is_400_too(probe):
    body = assert_envelope(probe.get("/api/probe/query?startsAt=soon&perPage=0"), 400, "VALIDATION_ERROR")

    assert set(body["error"]["details"]) == {"startsAt", "perPage"}
    assert probe.get("/api/probe/query?startsAt=5").status_code == 200


@pytest.mark.parametrize("raw", ["{bad", '{"email": }', "", "[", '"unterminated', "\xff\xfe", "[" * 100_000])
def test_malformed_json_is_400(client, app_ctx, raw):
    response = client.post("/api/auth/register", data=raw.encode("utf-8", "surrogateescape") if raw else b"{",
                           content_type="application/json")

    assert_envelope(response, 400, "VALIDATION_ERROR")
    assert db.session.scalars(select(User)).all() == []


@pytest.mark.parametrize("body", [[], [VALID], "a string", 42, None, True])
def test_json_that_is_not_an_object_is_400(client, app_ctx, body):
    response = client.post("/api/auth/register", json=body)

    assert_envelope(response, 400, "VALIDATION_ERROR")


# --- 401 403 404 405 409 -------------------------------------------------------------------


def test_401(client, app_ctx):
    assert_envelope(client.get("/api/auth/me"), 401, "UNAUTHORIZED")


def test_403(client, user_headers):
    assert_envelope(client.post("/api/auth/create-admin", json=VALID, headers=user_headers), 403, "FORBIDDEN")


@pytest.mark.parametrize("path", ["/api/nope", "/nope", "/api/auth/me/extra", "/api/auth/", "/%ff", "/api/docs/x"])
def test_unknown_routes_are_json_404(client, app_ctx, path):
    assert_envelope(client.get(path), 404, "NOT_FOUND")


@pytest.mark.parametrize("method, path, allowed", [
    ("get", "/api/auth/login", {"POST", "OPTIONS"}),
    ("delete", "/api/auth/me", {"GET", "HEAD", "OPTIONS"}),
    ("post", "/healthz", {"GET", "HEAD", "OPTIONS"}),
    ("put", "/api/openapi.json", {"GET", "HEAD", "OPTIONS"}),
])
def test_wrong_method_is_json_405_with_allow(client, app_ctx, method, path, allowed):
    response = getattr(client, method)(path)

    assert_envelope(response, 405, "METHOD_NOT_ALLOWED")
    assert {item.strip() for item in response.headers["Allow"].split(",")} == allowed


def test_409_named_conflicts(client, app_ctx, probe):
    assert client.post("/api/auth/register", json=VALID).status_code == 201
    assert_envelope(client.post("/api/auth/register", json=VALID), 409, "EMAIL_TAKEN")
    body = assert_envelope(probe.get("/api/probe/conflict"), 409, "SEATS_AVAILABLE")
    assert body["error"]["details"] == {"available": 3}


# --- 413 415 -------------------------------------------------------------------------------


def test_body_over_max_content_length_is_413(app, client, app_ctx):
    limit = app.config["MAX_CONTENT_LENGTH"]
    padding = "x" * (limit + 1)

    response = client.post("/api/auth/register", json={**VALID, "name": padding})

    assert_envelope(response, 413, "PAYLOAD_TOO_LARGE")
    assert db.session.scalars(select(User)).all() == []


@pytest.mark.parametrize("kwargs", [
    {"data": '{"email": "ada@example.com", "password": "longenough1", "name": "Ada"}', "content_type": "text/plain"},
    {"data": VALID},  # application/x-www-form-urlencoded
    {"data": {**VALID, "file": (io.BytesIO(b"x"), "x.txt")}, "content_type": "multipart/form-data"},
    {"data": "<user/>", "content_type": "application/xml"},
    {"data": '{"email": "ada@example.com"}'},  # no content type at all
])
def test_non_json_bodies_are_415(client, app_ctx, kwargs):
    response = client.post("/api/auth/register", **kwargs)

    assert_envelope(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert db.session.scalars(select(User)).all() == []


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8",
                                          "application/vnd.evently+json"])
def test_json_content_types_are_accepted(client, app_ctx, content_type):
    response = client.post("/api/auth/register", data=json.dumps(VALID), content_type=content_type)

    assert response.status_code == 201, response.get_json()


def test_bodyless_posts_are_not_415(client, user):
    tokens = client.post("/api/auth/login", json={"email": user.email, "password": "correct horse battery"})
    refresh = tokens.get_json()["data"]["refreshToken"]

    response = client.post("/api/auth/refresh", headers={"Authorization": f"Bearer {refresh}"})

    assert response.status_code == 200


# --- 429 503 500 ---------------------------------------------------------------------------


def test_login_brute_force_is_429_with_retry_after(app):
    with other_app(app, RATELIMIT_ENABLED=True, RATELIMIT_AUTH="3 per minute") as limited:
        client = limited.test_client()
        attempts = [client.post("/api/auth/login", json={"email": "ada@example.com", "password": f"guess{n}"})
                    for n in range(5)]

    assert [response.status_code for response in attempts] == [401, 401, 401, 429, 429]
    body = assert_envelope(attempts[3], 429, "RATE_LIMITED")
    assert body["error"]["details"] == {}
    assert 1 <= int(attempts[3].headers["Retry-After"]) <= 60


def test_a_route_whose_redis_is_down_is_503(app):
    with probe_app(app, REDIS_URL=DEAD_REDIS) as probe:
        response = probe.test_client().get("/api/probe/redis")

    assert_envelope(response, 503, "UNAVAILABLE")
    assert int(response.headers["Retry-After"]) >= 1


def test_an_unexpected_error_is_a_bare_500_envelope(probe):
    body = assert_envelope(probe.get("/api/probe/bug"), 500, "INTERNAL_ERROR")

    assert "passwd" not in str(body) and "RuntimeError" not in str(body)


def test_an_unexpected_error_is_500_outside_testing_mode_too(app):
    with probe_app(app, TESTING=False, PROPAGATE_EXCEPTIONS=False) as probe:
        response = probe.test_client().get("/api/probe/bug")

    assert_envelope(response, 500, "INTERNAL_ERROR")


# --- no 500 for bad input ------------------------------------------------------------------

NASTY_VALUES = [None, 0, -1, 1.5, True, [], {}, [None], {"$ne": None}, "", " ", "\x00", "a\x00b@example.com",
                "\ud800", "é" * 300, "x" * 5000, "' OR 1=1 --", "<script>alert(1)</script>", "%s%n", "../../etc/passwd"]
AUTH_ROUTES = ["/api/auth/register", "/api/auth/login", "/api/auth/create-admin", "/api/auth/password",
               "/api/auth/password-reset", "/api/auth/password-reset/confirm"]
LOGIN = {"email": VALID["email"], "password": VALID["password"]}
VALID_BODIES = {
    "/api/auth/login": LOGIN,
    "/api/auth/password": {"currentPassword": factories.PASSWORD, "newPassword": "longenough1"},
    "/api/auth/password-reset": {"email": VALID["email"]},
    "/api/auth/password-reset/confirm": {"token": "t" * 43, "password": "longenough1"},
}


@pytest.mark.parametrize("route, field", [
    *[(route, field) for route in ("/api/auth/register", "/api/auth/create-admin")
      for field in ("email", "password", "name", "role")],
    *[("/api/auth/login", field) for field in ("email", "password", "role")],
    *[("/api/auth/password", field) for field in ("currentPassword", "newPassword", "role")],
    *[("/api/auth/password-reset", field) for field in ("email", "role")],
    *[("/api/auth/password-reset/confirm", field) for field in ("token", "password", "role")],
])
def test_no_bad_value_in_any_auth_field_causes_a_500(app, route, field):
    valid = VALID_BODIES.get(route, VALID)
    # Outside TESTING so a bug shows as the 500 a user would see, not as a raised exception.
    with other_app(app, TESTING=False, PROPAGATE_EXCEPTIONS=False) as production_like:
        client = production_like.test_client()
        with production_like.app_context():
            headers = factories.auth_headers(factories.make_user(role="admin", email="root@example.com"))
        statuses = set()
        for value in NASTY_VALUES:
            response = client.post(route, json={**valid, field: value}, headers=headers)
            statuses.add(response.status_code)
            assert response.status_code < 500, (value, response.get_data(as_text=True))
            assert response.is_json
    assert statuses <= {200, 201, 202, 400, 401, 403, 409}


@pytest.mark.parametrize("route", AUTH_ROUTES + ["/api/auth/refresh", "/api/auth/logout", "/api/auth/logout-all"])
def test_no_bad_body_shape_on_auth_routes_causes_a_500(app, route):
    bodies = [b"", b"null", b"[]", b"{}", b'{"a":' * 50 + b"1" + b"}" * 50, b"[" * 5000, b"\x00", b'"\\ud800"',
              b'{"email": "\\u0000"}', b"1e999999", b"NaN", b'{"email": "a@b.c", "email": "d@e.f"}']
    with other_app(app, TESTING=False, PROPAGATE_EXCEPTIONS=False) as production_like:
        client = production_like.test_client()
        for raw in bodies:
            response = client.post(route, data=raw, content_type="application/json")
            assert response.status_code < 500, (raw, response.get_data(as_text=True))
            assert response.is_json
