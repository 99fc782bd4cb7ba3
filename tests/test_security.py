"""Security headers, caching and CORS variance, request ids, CORS, rate limiting (also with Redis
down) and production secrets (more in test_secret_keys.py)."""
import re

import pytest

from config import DEV_ADMIN_PASSWORD
from evently.secret_keys import PUBLISHED
from evently.security import SECURITY_HEADERS
from tests import factories
from tests.variants import DEAD_REDIS, other_app

ORIGIN = "https://app.example.com"
DEV_SECRET_KEY, DEV_JWT_SECRET_KEY = "dev-secret-key-change-me", "dev-jwt-secret-key-change-me-please-32b"
STRONG = {"SECRET_KEY": "s" * 40, "JWT_SECRET_KEY": "j" * 48, "EVENTLY_ADMIN_PASSWORD": "a-real-admin-secret"}


def login(client, email="nobody@example.com", password="wrong password", **kwargs):
    return client.post("/api/auth/login", json={"email": email, "password": password}, **kwargs)


# --- headers -------------------------------------------------------------------------------


def responses_of_every_kind(client, user_headers):
    return {
        "200": client.get("/healthz"),
        "200-api": client.get("/api/auth/me", headers=user_headers),
        "201": client.post("/api/auth/register", json={"email": "h@example.com", "password": "longenough1", "name": "H"}),
        "400": client.post("/api/auth/register", json={}),
        "401": client.get("/api/auth/me"),
        "404": client.get("/no/such/thing"),
        "405": client.get("/api/auth/login"),
        "415": client.post("/api/auth/login", data="x", content_type="text/plain"),
        "preflight": client.options("/api/auth/login", headers={"Origin": "http://localhost:3000",
                                                               "Access-Control-Request-Method": "POST"}),
        "metrics": client.get("/metrics"),
        "openapi": client.get("/api/openapi.json"),
    }


def test_security_headers_on_every_kind_of_response(client, user_headers):
    for kind, response in responses_of_every_kind(client, user_headers).items():
        for name, value in SECURITY_HEADERS.items():
            assert response.headers.get(name) == value, (kind, name)
        assert response.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'", kind
        assert "Server" not in response.headers, kind
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_old_defaults_are_among_the_refused_published_values():
    assert {DEV_SECRET_KEY, DEV_JWT_SECRET_KEY} <= PUBLISHED


def test_every_auth_answer_and_every_personal_answer_is_no_store(client, user, user_headers):
    tokens = client.post("/api/auth/login", json={"email": user.email, "password": factories.PASSWORD}).get_json()
    refresh = {"Authorization": f"Bearer {tokens['data']['refreshToken']}"}
    auth_answers = {
        "register 201": client.post("/api/auth/register", json={"email": "n@example.com", "password": "longenough1",
                                                               "name": "N"}),
        "register 400": client.post("/api/auth/register", json={}),
        "login 401": login(client),
        "login 415": client.post("/api/auth/login", data="x", content_type="text/plain"),
        "me 200": client.get("/api/auth/me", headers=user_headers),
        "me 401": client.get("/api/auth/me"),
        "refresh 200": client.post("/api/auth/refresh", headers=refresh),
        "refresh 401": client.post("/api/auth/refresh", headers=refresh),
        "reset 202": client.post("/api/auth/password-reset", json={"email": "n@example.com"}),
        "reset confirm 401": client.post("/api/auth/password-reset/confirm", json={"token": "x", "password": "y" * 8}),
        "password 403": client.post("/api/auth/password", headers=user_headers,
                                    json={"currentPassword": "nope", "newPassword": "longenough1"}),
        "logout-all 200": client.post("/api/auth/logout-all", headers=user_headers),
        "unknown auth route 404": client.get("/api/auth/nope"),
        "preflight": client.options("/api/auth/login", headers={"Origin": "http://localhost:3000",
                                                               "Access-Control-Request-Method": "POST"}),
    }
    personal = {
        "bookings": client.get("/api/bookings", headers=factories.auth_headers(user)),
        "waitlist": client.get("/api/waitlist", headers=factories.auth_headers(user)),
        "events with a token": client.get("/api/events", headers=factories.auth_headers(user)),
    }

    for kind, response in {**auth_answers, **personal}.items():
        assert response.headers.get("Cache-Control") == "no-store", (kind, response.status_code)
    assert client.get("/api/events").headers.get("Cache-Control") != "no-store"  # public, anonymous


def test_every_api_answer_varies_by_origin(client, user_headers):
    """flask-cors echoes an allowed Origin and answers others without CORS headers: a shared cache
    must never hand one origin's answer to another, so every /api answer says Vary: Origin."""
    configured = "http://localhost:3000"
    for response in (client.get("/api/events", headers={"Origin": configured}),
                     client.get("/api/events", headers={"Origin": "https://evil.example.com"}),
                     client.get("/api/events"),
                     client.get("/api/auth/me", headers=user_headers),
                     client.get("/api/nope"),
                     client.options("/api/auth/login", headers={"Origin": configured,
                                                               "Access-Control-Request-Method": "POST"})):
        assert [value.strip() for value in response.headers.get("Vary", "").split(",")].count("Origin") == 1, (
            response.request.path, response.headers.get_all("Vary"))
    assert "Vary" not in client.get("/healthz").headers  # no CORS outside /api


def test_docs_get_a_csp_for_swagger_ui_served_from_this_origin(client, app_ctx):
    """Swagger UI's files are ours (a pinned package), so its page allows no other
    origin and no inline code. tests/browser proves it still renders under this policy."""
    response = client.get("/api/docs")

    assert response.status_code == 200
    policy = dict(directive.split(" ", 1) for directive in response.headers["Content-Security-Policy"].split("; "))
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
    assert policy["img-src"] == "'self' data:" and policy["connect-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert "unsafe" not in response.headers["Content-Security-Policy"]
    assert "http" not in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"


# --- request id ----------------------------------------------------------------------------


def test_a_request_id_is_generated_for_every_response(client, app_ctx):
    ids = [client.get(path).headers["X-Request-ID"] for path in ("/healthz", "/healthz", "/nope", "/api/auth/me")]

    assert all(re.fullmatch(r"[0-9a-f]{32}", value) for value in ids), ids
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize("incoming", ["abc-123", "0f8fad5b-d9cb-469f-a165-70867728950e", "trace:span.1_x", "a" * 128])
def test_a_safe_client_request_id_is_echoed(client, app_ctx, incoming):
    for response in (client.get("/healthz", headers={"X-Request-ID": incoming}),
                     client.get("/nope", headers={"X-Request-ID": incoming}),
                     client.post("/api/auth/login", json={}, headers={"X-Request-ID": incoming})):
        assert response.headers["X-Request-ID"] == incoming


@pytest.mark.parametrize("incoming", ["has space", "semi;colon", "<script>", "a" * 129, "ünïcode", "a,b", "x\ty"])
def test_an_unsafe_client_request_id_is_replaced(client, app_ctx, incoming):
    response = client.get("/healthz", headers={"X-Request-ID": incoming})

    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])


def test_a_request_id_with_a_line_break_never_reaches_the_response(app, app_ctx):
    # The test client refuses newlines in headers, so go through the raw WSGI environ.
    environ_overrides = {"HTTP_X_REQUEST_ID": "abc\r\nSet-Cookie: owned=1"}
    response = app.test_client().get("/healthz", environ_overrides=environ_overrides)

    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])
    assert "Set-Cookie" not in response.headers


# --- CORS ----------------------------------------------------------------------------------


@pytest.fixture
def cors_client(app):
    with other_app(app, CORS_ORIGINS=[ORIGIN, "http://localhost:3000"]) as configured:
        yield configured.test_client()


@pytest.mark.parametrize("path, status", [("/api/auth/me", 401), ("/api/nope", 404)])
def test_a_configured_origin_is_allowed_on_success_and_error(cors_client, path, status):
    response = cors_client.get(path, headers={"Origin": ORIGIN})

    assert response.status_code == status
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "Origin" in response.headers.get("Vary", "")
    assert "X-Request-ID" in response.headers["Access-Control-Expose-Headers"]
    assert "Access-Control-Allow-Credentials" not in response.headers


def test_a_configured_origin_is_allowed_on_a_real_call(cors_client):
    response = cors_client.post("/api/auth/register", headers={"Origin": ORIGIN},
                                json={"email": "c@example.com", "password": "longenough1", "name": "C"})

    assert response.status_code == 201
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN


@pytest.mark.parametrize("origin", ["https://evil.example.com", "null", "https://app.example.com.evil.com",
                                    "http://app.example.com", "https://app.example.co", "*"])
def test_an_unconfigured_origin_gets_no_cors_headers(cors_client, origin):
    for response in (cors_client.get("/api/auth/me", headers={"Origin": origin}),
                     cors_client.options("/api/auth/login", headers={"Origin": origin,
                                                                     "Access-Control-Request-Method": "POST"})):
        assert "Access-Control-Allow-Origin" not in response.headers
        assert "Access-Control-Allow-Methods" not in response.headers


def test_preflight_for_a_configured_origin(cors_client):
    response = cors_client.options("/api/auth/login", headers={
        "Origin": ORIGIN,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "Authorization, Content-Type, Idempotency-Key",
    })

    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    allowed = {item.strip().lower() for item in response.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type", "idempotency-key"} <= allowed


def test_the_session_app_never_answers_with_a_wildcard(client, app, app_ctx):
    assert "*" not in app.config["CORS_ORIGINS"]
    for origin in app.config["CORS_ORIGINS"] + ["https://evil.example.com"]:
        response = client.get("/api/auth/me", headers={"Origin": origin})
        assert response.headers.get("Access-Control-Allow-Origin") in (origin, None)
        assert response.headers.get("Access-Control-Allow-Origin") != "*"


# --- rate limiting -------------------------------------------------------------------------


def limited_app(app, **overrides):
    return other_app(app, RATELIMIT_ENABLED=True, RATELIMIT_AUTH="3 per minute", **overrides)


def test_auth_routes_have_a_stricter_limit_than_the_rest(app):
    with limited_app(app, RATELIMIT_APPLICATION="50 per minute") as limited:
        client = limited.test_client()
        logins = [login(client).status_code for _ in range(4)]
        registers = [client.post("/api/auth/register", json={}).status_code for _ in range(4)]
        others = [client.get("/api/auth/me").status_code for _ in range(10)]

    assert logins == [401, 401, 401, 429]
    assert registers == [400, 400, 400, 429]
    assert set(others) == {401}
    assert limited.config["RATELIMIT_AUTH"] == "3 per minute"


def test_only_refusals_carry_retry_after(app):
    with limited_app(app) as limited:
        client = limited.test_client()
        answered = client.get("/api/events")
        refused = [login(client) for _ in range(4)][-1]

    assert answered.status_code == 200 and "Retry-After" not in answered.headers
    assert answered.headers["X-RateLimit-Limit"]
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0


def test_the_default_limit_applies_to_other_api_routes(app):
    with limited_app(app, RATELIMIT_APPLICATION="5 per minute") as limited:
        client = limited.test_client()
        statuses = [client.get("/api/auth/me").status_code for _ in range(7)]
        health = [client.get("/healthz").status_code for _ in range(7)]

    assert statuses == [401] * 5 + [429] * 2
    assert set(health) == {200}


def test_the_default_limit_is_one_budget_per_client_across_routes(app):
    with limited_app(app, RATELIMIT_APPLICATION="6 per minute") as limited:
        client = limited.test_client()
        statuses = [client.get(path).status_code for path in ("/api/events", "/api/auth/me", "/api/bookings") * 3]
        other_client = [client.get("/api/events", environ_base={"REMOTE_ADDR": "198.51.100.1"}).status_code]

    assert statuses == [200, 401, 401] * 2 + [429] * 3
    assert other_client == [200]


def test_a_spoofed_forwarded_for_does_not_change_the_limit_key(app):
    with limited_app(app) as limited:
        client = limited.test_client()
        statuses = [login(client, headers={"X-Forwarded-For": f"203.0.113.{n}"}).status_code for n in range(5)]

    assert statuses == [401, 401, 401, 429, 429]


def test_forwarded_for_is_honoured_only_behind_trusted_proxies(app):
    with limited_app(app, TRUSTED_PROXY_COUNT=1) as proxied:
        client = proxied.test_client()
        different = [login(client, headers={"X-Forwarded-For": f"203.0.113.{n}"}).status_code for n in range(5)]
        same = [login(client, headers={"X-Forwarded-For": "198.51.100.7"}).status_code for _ in range(4)]

    assert different == [401] * 5
    assert same == [401, 401, 401, 429]


def test_limits_still_apply_from_memory_when_redis_is_down(app, app_ctx):
    user = factories.make_user()
    with limited_app(app, RATELIMIT_STORAGE_URI=DEAD_REDIS) as degraded:
        client = degraded.test_client()
        statuses = [login(client, email=user.email, password=factories.PASSWORD).status_code for _ in range(5)]
        health = client.get("/healthz").status_code

    assert statuses == [200, 200, 200, 429, 429]
    assert health == 200


# --- production secrets --------------------------------------------------------------------


def production(app, **overrides):
    return other_app(app, "production", SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
                     REDIS_URL=app.config["REDIS_URL"], RATELIMIT_STORAGE_URI=app.config["REDIS_URL"],
                     CELERY=app.config["CELERY"], **overrides)


@pytest.mark.parametrize("weak, named", [
    ({"SECRET_KEY": DEV_SECRET_KEY}, "SECRET_KEY"),
    ({"SECRET_KEY": ""}, "SECRET_KEY"),
    ({"JWT_SECRET_KEY": DEV_JWT_SECRET_KEY}, "JWT_SECRET_KEY"),
    ({"JWT_SECRET_KEY": "short-but-not-the-default"}, "JWT_SECRET_KEY"),
    ({"EVENTLY_ADMIN_EMAIL": "admin@example.com", "EVENTLY_ADMIN_PASSWORD": DEV_ADMIN_PASSWORD},
     "EVENTLY_ADMIN_PASSWORD"),
])
def test_production_refuses_development_secrets(app, weak, named):
    with pytest.raises(RuntimeError, match=named):
        with production(app, **{**STRONG, **weak}):
            pass


def test_production_names_every_weak_secret_at_once(app):
    defaults = {"SECRET_KEY": DEV_SECRET_KEY, "JWT_SECRET_KEY": DEV_JWT_SECRET_KEY,
                "EVENTLY_ADMIN_EMAIL": "admin@evently.local", "EVENTLY_ADMIN_PASSWORD": DEV_ADMIN_PASSWORD}

    with pytest.raises(RuntimeError, match="SECRET_KEY, JWT_SECRET_KEY, EVENTLY_ADMIN_PASSWORD"):
        with production(app, **defaults):
            pass


def test_production_starts_with_strong_secrets(app):
    with production(app, **STRONG) as prod:
        response = prod.test_client().get("/healthz")

    assert prod.config["ENV_NAME"] == "production" and not prod.config["TESTING"]
    assert response.status_code == 200
