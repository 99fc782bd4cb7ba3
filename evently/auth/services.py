"""Accounts: registration, login, admin creation, token revocation."""
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_jwt_extended import create_access_token, create_refresh_token
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError

from evently.errors import EmailTaken, Unauthorized
from evently.extensions import db

from .models import RevokedToken, User

hasher = PasswordHasher()
# Verified against when the email is unknown, so both failures cost the same time.
_DUMMY_HASH = hasher.hash("not-a-real-password")


def normalize_email(email):
    return email.strip().lower()


def find_user_by_email(email):
    return db.session.scalar(select(User).where(func.lower(User.email) == normalize_email(email)))


def _create_user(*, email, password, name, role):
    user = User(email=normalize_email(email), name=name.strip(), password_hash=hasher.hash(password), role=role)
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise EmailTaken() from None
    return user


def issue_tokens(user):
    return {
        "user": user,
        "access_token": create_access_token(identity=user),
        "refresh_token": create_refresh_token(identity=user),
    }


def register_user(*, email, password, name):
    """Create a plain user and sign them in. Raises EmailTaken."""
    return issue_tokens(_create_user(email=email, password=password, name=name, role="user"))


def create_admin(*, email, password, name):
    """Create an admin account. Raises EmailTaken."""
    return _create_user(email=email, password=password, name=name, role="admin")


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
    try:
        hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        user = None
    if user is None:
        raise Unauthorized("Email or password is incorrect.")
    return issue_tokens(user)


def refresh_access(*, user):
    return {"access_token": create_access_token(identity=user)}


def revoke_token(*, jti, expires_at):
    """Put a token on the durable revocation list (idempotent)."""
    db.session.execute(insert(RevokedToken).values(jti=jti, expires_at=expires_at).on_conflict_do_nothing())
    db.session.commit()
