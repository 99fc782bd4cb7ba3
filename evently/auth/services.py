"""Accounts and sessions: registration, login, refresh, logout (one session or all), admins.

Each public function is one unit of work and commits it, except where a docstring says a
refusal commits first (a counted login attempt, an ended session): those must outlive the
error they end in.
"""
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from evently.errors import EmailTaken, Unauthorized
from evently.extensions import db

from . import passwords, sessions, throttle
from .models import User

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
    user = User(email=normalize_email(email), name=name.strip(), password_hash=passwords.hash_password(password),
                role=role)
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


def _prove_password(email, stored_hash, password):
    """Count the attempt against the address's throttle and commit it, then check the password
    against `stored_hash` (None: no such account). Unknown addresses and locked ones go through
    the same steps, at the same cost."""
    allowed = throttle.count_attempt(email)
    db.session.commit()
    if stored_hash is None or not allowed:
        return passwords.burn_time(password)
    return passwords.verify(stored_hash, password)


def authenticate(*, email, password):
    """Sign in. Raises Unauthorized, with the same message for an unknown address, a wrong
    password and an address locked by too many attempts. A hash made before passwords were
    normalised is replaced by the normalised one."""
    email = normalize_email(email)
    user = find_user_by_email(email)
    verified_hash = user.password_hash if user else None
    verification = _prove_password(email, verified_hash, password)
    if not verification.ok:
        raise Unauthorized(WRONG_CREDENTIALS)
    throttle.clear(email)
    if verification.needs_rehash:
        rehashed = passwords.hash_password(password)
        # Only over the hash just verified: a change committed meanwhile wins, and this login fails.
        if db.session.execute(update(User).where(User.id == user.id, User.password_hash == verified_hash)
                              .values(password_hash=rehashed)).rowcount:
            verified_hash = rehashed
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
    """Delete what no request can use any more: ended or idle sessions, finished throttle
    windows. Returns how many rows of each went."""
    counts = {"sessions": sessions.prune(), "throttles": throttle.prune()}
    db.session.commit()
    return counts
