"""/api/auth: register, login, refresh, logout (one session or all), me, password change and
reset, create-admin and create-staff. Every answer here carries `Cache-Control: no-store` (evently/security.py)."""
from flask import current_app
from flask_jwt_extended import current_user, get_jwt, jwt_required

from evently.errors import EmailTaken, Forbidden, Unauthorized
from evently.extensions import limiter
from evently.http import Blueprint, document_errors, envelope

from . import services
from .schemas import (AuthResultSchema, LoginSchema, NoDataSchema, PasswordChangeSchema,
                      PasswordResetConfirmSchema, PasswordResetRequestSchema, RegisterSchema, SessionsEndedSchema,
                      TokenPairSchema, UserDataSchema)
from .sessions import FAMILY_CLAIM
from .tokens import BEARER, admin_required, auth_required

blp = Blueprint("auth", __name__, url_prefix="/api/auth", description="Accounts, sessions and passwords")


def auth_limit():
    return current_app.config["RATELIMIT_AUTH"]


def session_id():
    """The session (token family) of the token this request carried."""
    return get_jwt()[FAMILY_CLAIM]


@blp.post("/register")
@document_errors(EmailTaken)
@limiter.limit(auth_limit)
@blp.arguments(RegisterSchema)
@blp.response(201, envelope(AuthResultSchema))
def register(body):
    """Create an account (role is always `user`) and start a session."""
    result = services.register_user(**body)
    return {"message": "Registered.", "data": result}


@blp.post("/login")
@document_errors(Unauthorized)
@limiter.limit(auth_limit)
@blp.arguments(LoginSchema)
@blp.response(200, envelope(AuthResultSchema))
def login(body):
    """Start a session. 401 for an unknown address, a wrong password, or an account locked by too
    many failed attempts (LOGIN_MAX_FAILURES per LOGIN_FAILURE_WINDOW_SECONDS): the answers are alike."""
    result = services.authenticate(**body)
    return {"message": "Logged in.", "data": result}


@blp.post("/refresh")
@document_errors(Unauthorized, security=BEARER)
@jwt_required(refresh=True)
@blp.response(200, envelope(TokenPairSchema))
def refresh():
    """Exchange the session's refresh token for a new access and refresh token. The refresh token
    sent here stops working; sending it again ends the whole session (it was copied, or replayed)."""
    tokens = services.refresh_session(user=current_user, family_id=session_id(), refresh_jti=get_jwt()["jti"])
    return {"message": "Token refreshed.", "data": tokens}


@blp.post("/logout")
@document_errors(Unauthorized, security=BEARER)
@jwt_required(verify_type=False)
@blp.response(200, envelope(SessionsEndedSchema, name="LogoutEnvelope"))
def logout():
    """End this session: its access and refresh tokens, whichever of them was sent."""
    return {"message": "Logged out.", "data": {"ended_sessions": services.log_out(family_id=session_id())}}


@blp.post("/logout-all")
@auth_required
@blp.response(200, envelope(SessionsEndedSchema, name="LogoutAllEnvelope"))
def logout_all():
    """End every session of the caller, this one included."""
    ended = services.log_out_everywhere(user=current_user)
    return {"message": "Logged out everywhere.", "data": {"ended_sessions": ended}}


@blp.get("/me")
@auth_required
@blp.response(200, envelope(UserDataSchema))
def me():
    return {"message": "Current user.", "data": {"user": services.get_user(user_id=current_user.id)}}


@blp.post("/password")
@document_errors(Forbidden)
@auth_required
@limiter.limit(auth_limit)
@blp.arguments(PasswordChangeSchema)
@blp.response(200, envelope(SessionsEndedSchema, name="PasswordChangedEnvelope"))
def change_password(body):
    """Change the password, proving the current one, and end every other session. 403 if the
    current password is wrong (or the account is locked by too many attempts)."""
    ended = services.change_password(user=current_user, family_id=session_id(), **body)
    return {"message": "Password changed; your other sessions have ended.", "data": {"ended_sessions": ended}}


@blp.post("/password-reset")
@limiter.limit(auth_limit)
@blp.arguments(PasswordResetRequestSchema)
@blp.response(202, envelope(NoDataSchema, name="PasswordResetRequestedEnvelope"))
def request_password_reset(body):
    """Mail a one-time reset token to this address if it has an account. The answer is the same
    whether it has one or not, and at most PASSWORD_RESET_MAX_PER_HOUR mails go to one account."""
    services.request_password_reset(**body)
    return {"message": "If an account uses this address, a reset token is on its way.", "data": {}}


@blp.post("/password-reset/confirm")
@document_errors(Unauthorized)
@limiter.limit(auth_limit)
@blp.arguments(PasswordResetConfirmSchema)
@blp.response(200, envelope(SessionsEndedSchema, name="PasswordResetEnvelope"))
def confirm_password_reset(body):
    """Set a new password with a mailed reset token, and end every session of the account.
    401 if the token is unknown, expired or used already."""
    ended = services.reset_password(**body)
    return {"message": "Password reset; log in with the new one.", "data": {"ended_sessions": ended}}


@blp.post("/create-admin")
@document_errors(EmailTaken)
@admin_required
@blp.arguments(RegisterSchema)
@blp.response(201, envelope(UserDataSchema, name="AdminEnvelope"))
def create_admin(body):
    user = services.create_admin(**body)
    return {"message": "Admin created.", "data": {"user": user}}


@blp.post("/create-staff")
@document_errors(EmailTaken)
@admin_required
@blp.arguments(RegisterSchema)
@blp.response(201, envelope(UserDataSchema, name="StaffEnvelope"))
def create_staff(body):
    """Create a door account (admin): role `staff` may check tickets in and read attendee lists, nothing else."""
    user = services.create_staff(**body)
    return {"message": "Staff account created.", "data": {"user": user}}
