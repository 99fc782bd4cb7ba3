"""Accounts and sessions: registration, login, refresh, logout, password change and reset, admins and staff.

Each public function is one unit of work and commits it, except where a docstring says a
refusal commits first (a counted login attempt, an ended session): those must outlive the
error they end in.
"""
import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from evently.common.models import utcnow
from evently.errors import EmailTaken, Forbidden, Unauthorized
from evently.extensions import db
from evently.notifications import outbox

from . import passwords, sessions, throttle
from .models import PasswordReset, User

WRONG_CREDENTIALS = "Email or password is incorrect."


@dataclass(frozen=True)
class SignedIn:
    user: User
    access_token: str
    refresh_token: str


def normalize_email(email):
    return email.strip().lower()


def get_user(*, user_id):
    """The account behind a token. Raises Unauthorized if it is gone."""
    user = db.session.get(User, user_id)
    if user is None:
        raise Unauthorized("The account behind this token no longer exists.")
    return user


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


def create_staff(*, email, password, name):
    """Create a door account (role `staff`: check-in and attendee lists). Raises EmailTaken."""
    user = _create_user(email=email, password=password, name=name, role="staff")
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


def change_password(*, user, family_id, current_password, new_password):
    """Set a new password and end every other session of the user (this one stays).
    Raises Forbidden if `current_password` is wrong, the address is locked by too many
    attempts (the attempt counts against the login throttle), or the password changed while
    it was being checked (a reset wins over a change proven with the password it replaced)."""
    email, verified_hash = db.session.execute(select(User.email, User.password_hash).where(User.id == user.id)).one()
    email = normalize_email(email)
    if not _prove_password(email, verified_hash, current_password).ok:
        raise Forbidden("The current password is incorrect.")
    throttle.clear(email)
    if not _replace_password(user.id, new_password, replacing=verified_hash):
        db.session.rollback()
        raise Forbidden("The current password is incorrect.")
    ended = sessions.revoke_all(user_id=user.id, reason="password_change", keep=family_id)
    db.session.commit()
    return ended


def _replace_password(user_id, password, *, replacing=None):
    """Store the new password's hash (only over `replacing`, when given) and void pending reset
    tokens. Returns False if `replacing` was no longer the stored hash."""
    statement = update(User).where(User.id == user_id)
    if replacing is not None:
        statement = statement.where(User.password_hash == replacing)
    if not db.session.execute(statement.values(password_hash=passwords.hash_password(password))).rowcount:
        return False
    db.session.execute(update(PasswordReset).where(PasswordReset.user_id == user_id, PasswordReset.used_at.is_(None))
                       .values(used_at=func.now()))
    return True


def _token_hash(token):
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def request_password_reset(*, email):
    """Mail a single-use reset token to the account with this address, through the outbox.
    Silently does nothing for an unknown address or past PASSWORD_RESET_MAX_PER_HOUR requests,
    so the caller answers the same in every case."""
    config = current_app.config
    user = find_user_by_email(email)
    if user is None:
        return
    # One request per account at a time, so concurrent ones cannot all pass the count below.
    db.session.execute(select(User.id).where(User.id == user.id).with_for_update())
    recent = db.session.scalar(select(func.count()).select_from(PasswordReset).where(
        PasswordReset.user_id == user.id, PasswordReset.created_at > utcnow() - timedelta(hours=1)))
    if recent >= config["PASSWORD_RESET_MAX_PER_HOUR"]:
        db.session.rollback()
        return
    token = secrets.token_urlsafe(32)
    minutes = config["PASSWORD_RESET_MINUTES"]
    reset = PasswordReset(user_id=user.id, token_hash=_token_hash(token),
                          expires_at=utcnow() + timedelta(minutes=minutes))
    db.session.add(reset)
    db.session.flush()
    outbox.password_reset(user_id=user.id, reset_id=reset.id, token=token, minutes=minutes,
                          url=config["PASSWORD_RESET_URL"])
    db.session.commit()


def reset_password(*, token, password):
    """Set the password of the account a reset token was mailed to, and end all its sessions.
    The token works once, within its lifetime. Raises Unauthorized otherwise. Returns how
    many sessions ended."""
    user_id = db.session.execute(
        update(PasswordReset)
        .where(PasswordReset.token_hash == _token_hash(token), PasswordReset.used_at.is_(None),
               PasswordReset.expires_at > func.now())
        .values(used_at=func.now())
        .returning(PasswordReset.user_id)
    ).scalar()
    if user_id is None:
        db.session.rollback()
        raise Unauthorized("This reset token is invalid, expired or already used.")
    _replace_password(user_id, password)
    ended = sessions.revoke_all(user_id=user_id, reason="password_reset")
    throttle.clear(db.session.scalar(select(User.email).where(User.id == user_id)))
    db.session.commit()
    return ended


# Reset rows outlive their tokens: the per-account hourly limit counts them.
RESET_RETENTION = timedelta(days=1)


def prune_expired():
    """Delete what no request can use any more: ended or idle sessions, day-old reset tokens,
    finished throttle windows. Returns how many rows of each went."""
    counts = {"sessions": sessions.prune(), "throttles": throttle.prune(),
              "passwordResets": db.session.execute(
                  delete(PasswordReset).where(PasswordReset.created_at < utcnow() - RESET_RETENTION)).rowcount}
    db.session.commit()
    return counts
