"""Accounts and sessions: registration, login, refresh, logout (one session or all), admins.

Each public function is one unit of work and commits it, except where a docstring says a
refusal commits first (an ended session): it must outlive the error it ends in.
"""
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from evently.errors import EmailTaken, Unauthorized
from evently.extensions import db

from . import sessions
from .models import User

hasher = PasswordHasher()
# Verified against when the email is unknown, so both failures cost the same time.
_DUMMY_HASH = hasher.hash("not-a-real-password")
WRONG_CREDENTIALS = "Email or password is incorrect."


@dataclass(frozen=True)
class SignedIn:
    user: User
    access_token: str
    refresh_token: str


def normalize_email(email):
    return email.strip().lower()


def find_user_by_email(email):
    return db.session.scalar(select(User).where(func.lower(User.email) == normalize_email(email)))


def _create_user(*, email, password, name, role):
    user = User(email=normalize_email(email), name=name.strip(), password_hash=hasher.hash(password), role=role)
    db.session.add(user)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise EmailTaken() from None
    return user


def _sign_in(user, verified_hash):
    tokens = sessions.open_session(user_id=user.id, verified_hash=verified_hash)
    if tokens is None:  # the password changed while it was being checked
        db.session.rollback()
        raise Unauthorized(WRONG_CREDENTIALS)
    db.session.commit()
    return SignedIn(user=user, access_token=tokens.access_token, refresh_token=tokens.refresh_token)


def register_user(*, email, password, name):
    """Create a plain user and sign them in. Raises EmailTaken."""
    user = _create_user(email=email, password=password, name=name, role="user")
    return _sign_in(user, user.password_hash)


def create_admin(*, email, password, name):
    """Create an admin account. Raises EmailTaken."""
    user = _create_user(email=email, password=password, name=name, role="admin")
    db.session.commit()
    return user


def ensure_admin(*, email, password, name="Administrator"):
    """Create the configured first admin if missing; returns True if created."""
    if find_user_by_email(email) is not None:
        return False
    try:
        create_admin(email=email, password=password, name=name)
    except EmailTaken:  # another process created it first
        return False
    return True


def authenticate(*, email, password):
    """Sign in. Raises Unauthorized with the same message for every mismatch."""
    user = find_user_by_email(email)
    verified_hash = user.password_hash if user else _DUMMY_HASH
    try:
        hasher.verify(verified_hash, password)
    except (VerificationError, InvalidHashError):
        user = None
    if user is None:
        raise Unauthorized(WRONG_CREDENTIALS)
    return _sign_in(user, verified_hash)


def refresh_session(*, user, family_id, refresh_jti):
    """Rotate the session's refresh token. Raises Unauthorized for a refresh token that was
    already used; its whole session is ended (and committed) first."""
    tokens = sessions.rotate(user_id=user.id, family_id=family_id, presented_jti=refresh_jti)
    db.session.commit()
    if tokens is None:
        raise Unauthorized("This refresh token was already used, so its session has ended: log in again.")
    return tokens


def log_out(*, family_id):
    """End one session: every access and refresh token of its login. Returns how many ended (0 or 1)."""
    ended = sessions.revoke(family_id=family_id, reason="logout")
    db.session.commit()
    return ended


def log_out_everywhere(*, user):
    """End every session of the user. Returns how many ended."""
    ended = sessions.revoke_all(user_id=user.id, reason="logout_all")
    db.session.commit()
    return ended


def prune_expired():
    """Delete the sessions no request can use any more. Returns how many rows went."""
    counts = {"sessions": sessions.prune()}
    db.session.commit()
    return counts
