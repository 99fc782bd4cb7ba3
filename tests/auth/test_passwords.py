"""Only ASCII addresses are registered: they must be deliverable."""
import pytest
from sqlalchemy import select

from evently.auth.models import User
from evently.extensions import db


def register(client, email="ada@example.com", password="longenough1"):
    return client.post("/api/auth/register", json={"email": email, "password": password, "name": "Ada"})


@pytest.mark.parametrize("email", ["josé@example.com", "用户@example.com", "ada@bücher.de"])
def test_a_non_ascii_address_is_refused_at_registration_with_a_clear_400(client, app_ctx, email):
    response = register(client, email=email)

    assert response.status_code == 400, response.get_json()
    assert response.get_json()["error"]["code"] == "VALIDATION_ERROR"
    [message] = response.get_json()["error"]["details"]["email"]
    assert "ASCII" in message
    assert db.session.scalars(select(User)).all() == []


def test_an_internationalised_domain_in_its_ascii_form_is_accepted(client, app_ctx):
    assert register(client, email="ada@xn--bcher-kva.de").status_code == 201
