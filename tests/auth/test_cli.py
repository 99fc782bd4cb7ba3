"""`flask create-admin` and `flask ensure-admin`: rows, idempotency, and refusals."""
from argon2 import PasswordHasher
from sqlalchemy import select

from evently.auth.models import User
from evently.extensions import db
from tests import factories

PASSWORD = "a-strong-admin-password"


def rows():
    db.session.expire_all()
    return db.session.scalars(select(User).order_by(User.id)).all()


def test_create_admin_command_creates_an_admin_who_can_log_in(app, app_ctx, client):
    runner = app.test_cli_runner()

    result = runner.invoke(args=["create-admin", "--email", "Boss@Example.com", "--name", "Boss",
                                 "--password", PASSWORD])

    assert result.exit_code == 0, result.output
    assert "boss@example.com" in result.output
    [row] = rows()
    assert (row.email, row.name, row.role) == ("boss@example.com", "Boss", "admin")
    assert PasswordHasher().verify(row.password_hash, PASSWORD)
    login = client.post("/api/auth/login", json={"email": "boss@example.com", "password": PASSWORD})
    assert login.get_json()["data"]["user"]["role"] == "admin"


def test_create_admin_command_prompts_for_the_password(app, app_ctx):
    result = app.test_cli_runner().invoke(args=["create-admin", "--email", "boss@example.com"],
                                          input=f"{PASSWORD}\n{PASSWORD}\n")

    assert result.exit_code == 0, result.output
    assert [row.role for row in rows()] == ["admin"]


def test_create_admin_command_refuses_an_existing_email(app, app_ctx, user):
    result = app.test_cli_runner().invoke(args=["create-admin", "--email", user.email.upper(), "--password", PASSWORD])

    assert result.exit_code == 1
    assert "already exists" in result.output
    assert "Traceback" not in result.output
    assert [(row.email, row.role) for row in rows()] == [(user.email, "user")]


def test_create_admin_command_applies_the_api_rules(app, app_ctx):
    runner = app.test_cli_runner()

    short = runner.invoke(args=["create-admin", "--email", "boss@example.com", "--password", "short"])
    bad_email = runner.invoke(args=["create-admin", "--email", "not-an-email", "--password", PASSWORD])

    assert short.exit_code == 1 and "password" in short.output
    assert bad_email.exit_code == 1 and "email" in bad_email.output
    assert rows() == []


def test_ensure_admin_is_idempotent(app, app_ctx, monkeypatch):
    monkeypatch.setitem(app.config, "EVENTLY_ADMIN_EMAIL", "First@Example.com")
    monkeypatch.setitem(app.config, "EVENTLY_ADMIN_PASSWORD", PASSWORD)
    runner = app.test_cli_runner()

    first = runner.invoke(args=["ensure-admin"])
    second = runner.invoke(args=["ensure-admin"])

    assert first.exit_code == 0 and "created" in first.output, first.output
    assert second.exit_code == 0 and "already present" in second.output, second.output
    [row] = rows()
    assert (row.email, row.role) == ("first@example.com", "admin")
    assert PasswordHasher().verify(row.password_hash, PASSWORD)


def test_ensure_admin_never_promotes_a_plain_user(app, app_ctx, monkeypatch):
    squatter = factories.make_user(email="first@example.com")
    monkeypatch.setitem(app.config, "EVENTLY_ADMIN_EMAIL", "first@example.com")
    monkeypatch.setitem(app.config, "EVENTLY_ADMIN_PASSWORD", PASSWORD)

    result = app.test_cli_runner().invoke(args=["ensure-admin"])

    assert result.exit_code == 1
    assert "not an admin" in result.output
    assert [(row.id, row.role) for row in rows()] == [(squatter.id, "user")]


def test_ensure_admin_without_configuration_does_nothing(app, app_ctx, monkeypatch):
    monkeypatch.setitem(app.config, "EVENTLY_ADMIN_EMAIL", None)

    result = app.test_cli_runner().invoke(args=["ensure-admin"])

    assert result.exit_code == 0 and "skipping" in result.output
    assert rows() == []
