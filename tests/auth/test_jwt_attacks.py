"""Forged, tampered, expired and malformed tokens all end as the same 401 envelope, never a 500:
also correctly signed ones that lack what every Evently token carries (exp, a sane jti, a live session)."""
import base64
import json
import warnings

import jwt as pyjwt
import pytest
from flask_jwt_extended import decode_token
from sqlalchemy import select

from evently.auth.models import User
from evently.extensions import db
from tests import factories


def b64(data):
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def admin_claims(app, admin):
    return decode_token(factories.access_token(admin))


def forge(app, admin, how):
    claims = admin_claims(app, admin)
    secret = app.config["JWT_SECRET_KEY"]
    if how == "alg-none":
        return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."
    if how == "alg-none-with-signature":
        good = factories.access_token(admin)
        return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}.{good.split('.')[2]}"
    if how == "wrong-secret":
        return pyjwt.encode(claims, "an-attacker-guess-of-the-secret-32-bytes!", algorithm="HS256")
    if how == "other-algorithm-right-secret":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", pyjwt.warnings.InsecureKeyLengthWarning)  # short for HS512
            return pyjwt.encode(claims, secret, algorithm="HS512")
    if how == "expired":
        return pyjwt.encode({**claims, "exp": claims["iat"] - 60}, secret, algorithm="HS256")
    if how == "tampered-payload":
        header, _payload, signature = factories.access_token(admin).split(".")
        return f"{header}.{b64({**claims, 'sub': '999999'})}.{signature}"
    if how in SIGNED_BUT_MALFORMED:
        return pyjwt.encode(SIGNED_BUT_MALFORMED[how](claims), secret, algorithm="HS256")
    if how == "non-numeric-subject":
        return pyjwt.encode({**claims, "sub": "admin"}, secret, algorithm="HS256")
    if how == "unknown-subject":
        return pyjwt.encode({**claims, "sub": "999999", "jti": "x"}, secret, algorithm="HS256")
    return {"garbage": "garbage", "three-dots": "a.b.c", "empty-segments": "..", "unicode": "tøken",
            "huge": "a" * 8000}[how]


# Signed with the real key: what only a leaked key, or a bug in Evently's own minting, could produce.
SIGNED_BUT_MALFORMED = {
    "no-exp": lambda claims: {key: value for key, value in claims.items() if key != "exp"},
    "exp-not-a-number": lambda claims: {**claims, "exp": "tomorrow"},
    "jti-over-64-characters": lambda claims: {**claims, "jti": "j" * 65},
    "jti-not-a-string": lambda claims: {**claims, "jti": ["a"]},
    "no-session": lambda claims: {key: value for key, value in claims.items() if key != "fam"},
    "unknown-session": lambda claims: {**claims, "fam": "f" * 32},
    "malformed-session": lambda claims: {**claims, "fam": "' OR 1=1 --"},
    "huge-subject": lambda claims: {**claims, "sub": "9" * 40},
    "no-role": lambda claims: {key: value for key, value in claims.items() if key != "role"},
    "unknown-role": lambda claims: {**claims, "role": "superuser"},
}
ATTACKS = ["alg-none", "alg-none-with-signature", "wrong-secret", "other-algorithm-right-secret", "expired",
           "tampered-payload", "non-numeric-subject", "unknown-subject", "garbage",
           "three-dots", "empty-segments", "huge", *SIGNED_BUT_MALFORMED]


def assert_401(response):
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.is_json
    body = response.get_json()
    assert set(body) == {"message", "error"}
    assert body["error"]["code"] == "UNAUTHORIZED"


@pytest.mark.parametrize("how", ATTACKS)
def test_forged_tokens_are_401_on_me(app, client, admin, how):
    assert_401(client.get("/api/auth/me", headers={"Authorization": f"Bearer {forge(app, admin, how)}"}))


@pytest.mark.parametrize("how", ATTACKS)
def test_forged_admin_tokens_cannot_create_admins(app, client, admin, how):
    response = client.post("/api/auth/create-admin", headers={"Authorization": f"Bearer {forge(app, admin, how)}"},
                           json={"email": "mallory@example.com", "password": "longenough1", "name": "Mallory"})

    assert_401(response)
    assert db.session.scalar(select(User).where(User.email == "mallory@example.com")) is None


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "Token abc", "Basic YTpi", "bearer", "Bearer a b"])
def test_malformed_authorization_headers_are_401(client, app_ctx, header):
    assert_401(client.get("/api/auth/me", headers={"Authorization": header}))


@pytest.mark.parametrize("how", list(SIGNED_BUT_MALFORMED))
def test_malformed_signed_tokens_cannot_log_out_either(app, client, admin, how):
    assert_401(client.post("/api/auth/logout", headers={"Authorization": f"Bearer {forge(app, admin, how)}"}))


def test_another_users_session_does_not_vouch_for_a_token(app, client, admin, user):
    """A session id is not a credential on its own: it must belong to the token's subject."""
    users_session = decode_token(factories.access_token(user))["fam"]
    token = pyjwt.encode({**admin_claims(app, admin), "fam": users_session}, app.config["JWT_SECRET_KEY"],
                         algorithm="HS256")

    assert_401(client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}))


def test_the_same_claims_properly_signed_are_accepted(app, client, admin):
    """Control: the forgeries fail because of what was forged, not because the claims are wrong."""
    token = pyjwt.encode(admin_claims(app, admin), app.config["JWT_SECRET_KEY"], algorithm="HS256")

    assert client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
