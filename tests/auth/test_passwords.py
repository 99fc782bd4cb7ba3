"""Passwords are NFKC-normalised before hashing and verifying (old raw hashes still work and are
replaced on the next login), and only ASCII addresses are registered (they must be deliverable)."""
import unicodedata

import pytest
from sqlalchemy import select

from evently.auth import passwords
from evently.auth.models import User
from evently.extensions import db

NFC = unicodedata.normalize("NFC", "café au lait ½")
NFD = unicodedata.normalize("NFD", NFC)


def register(client, email="ada@example.com", password=NFC):
    return client.post("/api/auth/register", json={"email": email, "password": password, "name": "Ada"})


def login(client, password, email="ada@example.com"):
    return client.post("/api/auth/login", json={"email": email, "password": password})


def stored_hash(email="ada@example.com"):
    db.session.expire_all()
    return db.session.scalar(select(User.password_hash).where(User.email == email))


def test_the_two_spellings_of_one_password_are_one_password(client, app_ctx):
    assert NFC != NFD
    assert register(client, password=NFC).status_code == 201

    assert login(client, NFD).status_code == 200
    assert login(client, NFC).status_code == 200
    assert login(client, unicodedata.normalize("NFKC", NFC)).status_code == 200  # "½" typed as "1⁄2"
    assert login(client, "cafe au lait ½").status_code == 401


def test_a_hash_made_before_normalisation_still_works_and_is_replaced(client, app_ctx):
    assert register(client, password="placeholder-pass").status_code == 201
    user = db.session.scalar(select(User).where(User.email == "ada@example.com"))
    legacy = passwords.hasher.hash(NFD)  # what the old code stored for a password typed as NFD
    user.password_hash = legacy
    db.session.commit()

    assert login(client, NFC).status_code == 401  # the old code could not match these either
    assert stored_hash() == legacy
    assert login(client, NFD).status_code == 200

    assert stored_hash() != legacy
    assert passwords.verify(stored_hash(), NFC) == passwords.Verification(True, False)
    assert login(client, NFC).status_code == 200


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
