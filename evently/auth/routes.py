"""/api/auth: register, login, refresh, logout, me, create-admin."""
from flask import current_app
from flask_jwt_extended import current_user, get_jwt, jwt_required

from evently.extensions import limiter
from evently.http import Blueprint, document_errors, envelope

from . import services
from .schemas import AccessTokenSchema, AuthResultSchema, LoginSchema, RegisterSchema, UserDataSchema
from .tokens import BEARER, admin_required, auth_required, expiry_of

blp = Blueprint("auth", __name__, url_prefix="/api/auth", description="Accounts and tokens")


def auth_limit():
    return current_app.config["RATELIMIT_AUTH"]


@blp.post("/register")
@document_errors(409)
@limiter.limit(auth_limit)
@blp.arguments(RegisterSchema)
@blp.response(201, envelope(AuthResultSchema))
def register(body):
    """Create an account (role is always `user`)."""
    result = services.register_user(**body)
    return {"message": "Registered.", "data": result}


@blp.post("/login")
@document_errors(401)
@limiter.limit(auth_limit)
@blp.arguments(LoginSchema)
@blp.response(200, envelope(AuthResultSchema))
def login(body):
    result = services.authenticate(**body)
    return {"message": "Logged in.", "data": result}


@blp.post("/refresh")
@document_errors(401, security=BEARER)
@jwt_required(refresh=True)
@blp.response(200, envelope(AccessTokenSchema))
def refresh():
    """Exchange a refresh token for a new access token."""
    return {"message": "Token refreshed.", "data": services.refresh_access(user=current_user)}


@blp.post("/logout")
@document_errors(401, security=BEARER)
@jwt_required(verify_type=False)
@blp.response(200, envelope(AccessTokenSchema, name="LogoutEnvelope"))
def logout():
    """Revoke the token sent with this request (access or refresh)."""
    claims = get_jwt()
    services.revoke_token(jti=claims["jti"], expires_at=expiry_of(claims))
    return {"message": "Logged out.", "data": {}}


@blp.get("/me")
@auth_required
@blp.response(200, envelope(UserDataSchema))
def me():
    return {"message": "Current user.", "data": {"user": current_user}}


@blp.post("/create-admin")
@document_errors(409)
@admin_required
@blp.arguments(RegisterSchema)
@blp.response(201, envelope(UserDataSchema, name="AdminEnvelope"))
def create_admin(body):
    user = services.create_admin(**body)
    return {"message": "Admin created.", "data": {"user": user}}
