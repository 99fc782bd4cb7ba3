"""/api/auth over HTTP: the contract and the rows behind it (sessions: test_sessions.py)."""
import re

import pytest
from argon2 import PasswordHasher
from flask_jwt_extended import decode_token
from sqlalchemy import func, select

from evently.auth.models import User
from evently.extensions import db
from tests import factories

PASSWORD = "longenough1"


def register(client, email="ada@example.com", password=PASSWORD, name="Ada", **extra):
    return client.post("/api/auth/register", json={"email": email, "password": password, "name": name, **extra})


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def users():
    db.session.expire_all()
    return db.session.scalars(select(User).order_by(User.id)).all()


def assert_error(response, status, code):
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"message", "error"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    return body


# --- register ------------------------------------------------------------------------------


def test_register_creates_a_user_and_signs_them_in(client, app_ctx):
    response = register(client, email="Ada@Example.COM", name=" Ada ")

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["message"]
    data = body["data"]
    assert set(data) == {"user", "accessToken", "refreshToken"}
    assert set(data["user"]) == {"id", "email", "name", "role", "createdAt"}
    assert data["user"]["role"] == "user"
    assert data["user"]["email"] == "ada@example.com"
    # The one timestamp format of the API (evently/common/fields.py): whole seconds, UTC, "Z".
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", data["user"]["createdAt"]), data["user"]["createdAt"]
    [row] = users()
    assert (row.id, row.email, row.name, row.role) == (data["user"]["id"], "ada@example.com", "Ada", "user")
    assert row.password_hash.startswith("$argon2") and PASSWORD not in row.password_hash
    assert PasswordHasher().verify(row.password_hash, PASSWORD)
    assert decode_token(data["accessToken"])["type"] == "access"
    assert decode_token(data["refreshToken"])["type"] == "refresh"
    assert decode_token(data["accessToken"])["sub"] == str(row.id)


@pytest.mark.parametrize("role", ["admin", "user", None])
def test_register_rejects_a_role_field_and_creates_nothing(client, app_ctx, role):
    response = register(client, role=role)

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert "role" in body["error"]["details"]
    assert users() == []


def test_register_never_creates_an_admin_through_any_key_spelling(client, app_ctx):
    for extra in ({"Role": "admin"}, {"is_admin": True}, {"isAdmin": True}, {"user": {"role": "admin"}}):
        assert_error(register(client, **extra), 400, "VALIDATION_ERROR")
    assert db.session.scalar(select(func.count()).select_from(User).where(User.role == "admin")) == 0
    assert users() == []


def test_duplicate_email_is_409_case_insensitively(client, app_ctx):
    assert register(client, email="ada@example.com").status_code == 201

    for email in ("ada@example.com", "ADA@example.com", "Ada@Example.Com"):
        body = assert_error(register(client, email=email, name="Other"), 409, "EMAIL_TAKEN")
        assert body["error"]["details"] == {}
    [row] = users()
    assert row.name == "Ada"


@pytest.mark.parametrize("password", ["", "short", "7chars!", "x" * 129, "x" * 10_000])
def test_password_outside_8_to_128_is_400(client, app_ctx, password):
    body = assert_error(register(client, password=password), 400, "VALIDATION_ERROR")
    assert list(body["error"]["details"]) == ["password"]
    assert users() == []


@pytest.mark.parametrize("password", ["8chars!!", "x" * 128])
def test_password_at_the_limits_is_accepted(client, app_ctx, password):
    assert register(client, password=password).status_code == 201
    login = client.post("/api/auth/login", json={"email": "ada@example.com", "password": password})
    assert login.status_code == 200


@pytest.mark.parametrize("email", ["", "not-an-email", "a@", "@b.com", "a b@c.com", "a@b@c.com",
                                   "x" * 250 + "@example.com", 42, None, ["a@b.com"]])
def test_bad_email_is_400(client, app_ctx, email):
    body = assert_error(register(client, email=email), 400, "VALIDATION_ERROR")
    assert list(body["error"]["details"]) == ["email"]
    assert users() == []


def test_missing_fields_are_each_reported(client, app_ctx):
    body = assert_error(client.post("/api/auth/register", json={}), 400, "VALIDATION_ERROR")
    assert set(body["error"]["details"]) == {"email", "password", "name"}
    assert all(isinstance(messages, list) and messages for messages in body["error"]["details"].values())


@pytest.mark.parametrize("name", ["", "   ", "x" * 121])
def test_bad_name_is_400(client, app_ctx, name):
    body = assert_error(register(client, name=name), 400, "VALIDATION_ERROR")
    assert list(body["error"]["details"]) == ["name"]
    assert users() == []


def test_register_strips_spaces_around_the_email_as_login_does(client, app_ctx):
    response = register(client, email="  Spaced@Example.com ", name=" Ada ")
    assert response.status_code == 201, response.get_data(as_text=True)
    assert [(user.email, user.name) for user in users()] == [("spaced@example.com", "Ada")]
    login = client.post("/api/auth/login", json={"email": " spaced@example.com", "password": PASSWORD})
    assert login.status_code == 200


# --- login ---------------------------------------------------------------------------------


def test_login_returns_working_tokens(client, user):
    response = client.post("/api/auth/login", json={"email": user.email.upper(), "password": factories.PASSWORD})

    assert response.status_code == 200, response.get_json()
    data = response.get_json()["data"]
    assert data["user"]["id"] == user.id
    assert data["user"]["role"] == "user"
    me = client.get("/api/auth/me", headers=bearer(data["accessToken"]))
    assert me.status_code == 200
    assert me.get_json()["data"]["user"]["email"] == user.email


def test_unknown_email_and_wrong_password_are_indistinguishable(client, user):
    unknown = client.post("/api/auth/login", json={"email": "nobody@example.com", "password": factories.PASSWORD})
    wrong = client.post("/api/auth/login", json={"email": user.email, "password": "wrong password"})

    assert_error(unknown, 401, "UNAUTHORIZED")
    assert_error(wrong, 401, "UNAUTHORIZED")
    assert unknown.get_json() == wrong.get_json()
    assert "accessToken" not in unknown.get_data(as_text=True)


# --- tokens --------------------------------------------------------------------------------


def test_refresh_with_an_access_token_is_401(client, user):
    tokens = client.post("/api/auth/login", json={"email": user.email, "password": factories.PASSWORD}).get_json()["data"]

    assert_error(client.post("/api/auth/refresh", headers=bearer(tokens["accessToken"])), 401, "UNAUTHORIZED")


def test_a_refresh_token_does_not_open_access_endpoints(client, user):
    tokens = client.post("/api/auth/login", json={"email": user.email, "password": factories.PASSWORD}).get_json()["data"]

    assert_error(client.get("/api/auth/me", headers=bearer(tokens["refreshToken"])), 401, "UNAUTHORIZED")


def test_me_returns_the_caller_without_secrets(client, user, user_headers):
    response = client.get("/api/auth/me", headers=user_headers)

    assert response.status_code == 200
    assert response.get_json()["data"]["user"] == {
        "id": user.id, "email": user.email, "name": user.name, "role": "user",
        "createdAt": response.get_json()["data"]["user"]["createdAt"],
    }
    assert "password" not in response.get_data(as_text=True).lower()


def test_a_token_for_a_deleted_user_is_401(client, user, user_headers):
    db.session.delete(user)
    db.session.commit()

    assert_error(client.get("/api/auth/me", headers=user_headers), 401, "UNAUTHORIZED")


# --- create-admin --------------------------------------------------------------------------


def test_admin_creates_an_admin(client, admin_headers):
    response = client.post("/api/auth/create-admin", headers=admin_headers,
                           json={"email": "Second@Example.com", "password": PASSWORD, "name": "Second"})

    assert response.status_code == 201, response.get_json()
    assert response.get_json()["data"]["user"]["role"] == "admin"
    row = db.session.scalar(select(User).where(User.email == "second@example.com"))
    assert row.role == "admin"
    assert "accessToken" not in response.get_json()["data"]
    login = client.post("/api/auth/login", json={"email": "second@example.com", "password": PASSWORD})
    assert login.get_json()["data"]["user"]["role"] == "admin"


def test_a_user_cannot_create_an_admin(client, user_headers):
    response = client.post("/api/auth/create-admin", headers=user_headers,
                           json={"email": "evil@example.com", "password": PASSWORD, "name": "Evil"})

    assert_error(response, 403, "FORBIDDEN")
    assert db.session.scalar(select(User).where(User.email == "evil@example.com")) is None


def test_create_admin_without_a_token_is_401(client, app_ctx):
    response = client.post("/api/auth/create-admin", json={"email": "evil@example.com", "password": PASSWORD, "name": "E"})

    assert_error(response, 401, "UNAUTHORIZED")
    assert users() == []


def test_create_admin_validates_and_rejects_duplicates(client, admin, admin_headers):
    assert_error(client.post("/api/auth/create-admin", headers=admin_headers,
                             json={"email": "x@example.com", "password": "short", "name": "X"}), 400, "VALIDATION_ERROR")
    assert_error(client.post("/api/auth/create-admin", headers=admin_headers,
                             json={"email": admin.email.upper(), "password": PASSWORD, "name": "X"}), 409, "EMAIL_TAKEN")
    assert [row.email for row in users()] == [admin.email]
