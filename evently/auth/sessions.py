"""Login sessions: every login opens a family (an `auth_sessions` row) and every token minted
from it carries the family's id in its `fam` claim.

- Refresh rotates: the family remembers the one refresh token (by jti) that may be used next,
  and swaps it in one compare-and-set UPDATE. A refresh token of the family that is not the
  current one has been used before, by its owner or by whoever copied it; which of the two is
  unknowable, so the family ends, and both have to log in again.
- Ending a family ends its access tokens too: every authenticated request checks the family
  (evently/auth/liveness.py: Redis, PostgreSQL behind it).
- Tokens carry the user's role (`role`), so a request needs no query to know it; a role
  change reaches a user's tokens at their next refresh.
Nothing here commits; the services in evently/auth/services.py do.
"""
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from flask_jwt_extended import create_access_token, create_refresh_token
from sqlalchemy import delete, func, insert, literal, or_, select, update

from evently.common.models import utcnow
from evently.extensions import db

from . import liveness
from .models import AuthSession, User

FAMILY_CLAIM = "fam"
ROLE_CLAIM = "role"
FAMILY_ID = re.compile(r"[0-9a-f]{32}")
# The column that keeps a refresh token's jti; tokens with a longer one are refused before any query.
MAX_JTI_LENGTH = AuthSession.refresh_jti.type.length


@dataclass(frozen=True)
class Tokens:
    family_id: str
    access_token: str
    refresh_token: str


def mint(*, user_id, role, family_id, refresh_jti):
    """An access token and the family's current refresh token."""
    identity = str(user_id)
    claims = {FAMILY_CLAIM: family_id, ROLE_CLAIM: role}
    return Tokens(
        family_id=family_id,
        access_token=create_access_token(identity=identity, additional_claims=claims),
        refresh_token=create_refresh_token(identity=identity, additional_claims={**claims, "jti": refresh_jti}),
    )


def open_session(*, user_id, verified_hash):
    """Start a family for a user whose password was just proven against `verified_hash`.
    Returns None if that hash is no longer the user's: a reset or a change committed while the
    password was being checked must not leave a session opened with the old one."""
    family_id, refresh_jti = secrets.token_hex(16), str(uuid.uuid4())
    opened = db.session.execute(
        insert(AuthSession).from_select(
            ["id", "user_id", "refresh_jti"],
            select(literal(family_id), User.id, literal(refresh_jti))
            .where(User.id == user_id, User.password_hash == verified_hash))
        .returning(AuthSession.id, select(User.role).where(User.id == user_id).scalar_subquery())
    ).first()
    if opened is None:
        return None
    liveness.opened(user_id=user_id, family_id=family_id)
    return mint(user_id=user_id, role=opened[1], family_id=family_id, refresh_jti=refresh_jti)


def rotate(*, user_id, family_id, presented_jti):
    """Swap the family's refresh token for a new one and mint a pair. Returns None if
    `presented_jti` is not the family's current refresh token (a reuse): the family is then
    revoked, and the caller must commit that before refusing."""
    new_jti = str(uuid.uuid4())
    # The role is read afresh here: a refresh is where a changed role reaches the user's tokens.
    role = db.session.execute(
        update(AuthSession)
        .where(AuthSession.id == family_id, AuthSession.user_id == user_id,
               AuthSession.refresh_jti == presented_jti, AuthSession.revoked_at.is_(None))
        .values(refresh_jti=new_jti, last_used_at=func.now())
        .returning(select(User.role).where(User.id == user_id).scalar_subquery())
    ).scalar()
    if role is None:
        revoke(family_id=family_id, reason="refresh_reuse")
        return None
    liveness.opened(user_id=user_id, family_id=family_id)
    return mint(user_id=user_id, role=role, family_id=family_id, refresh_jti=new_jti)


def revoke(*, family_id, reason):
    """End one family; returns 1, or 0 if it had ended already."""
    ended = db.session.execute(
        update(AuthSession).where(AuthSession.id == family_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=func.now(), revoked_reason=reason).returning(AuthSession.id)
    ).scalars().all()
    liveness.ended(ended)
    return len(ended)


def revoke_all(*, user_id, reason, keep=None):
    """End every live family of the user except `keep`; returns how many ended."""
    statement = update(AuthSession).where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
    if keep is not None:
        statement = statement.where(AuthSession.id != keep)
    ended = db.session.execute(statement.values(revoked_at=func.now(), revoked_reason=reason)
                               .returning(AuthSession.id)).scalars().all()
    liveness.ended(ended)
    return len(ended)


# Ended families stay this long for whoever investigates a "refresh_reuse"; nothing depends on them.
KEEP_ENDED = timedelta(days=1)


def prune():
    """Delete families no token can use any more: ended a while ago, or idle past the refresh
    lifetime (a missing family is refused like an ended one). Never commits; returns how many."""
    now = utcnow()
    idle_since = now - current_app.config["JWT_REFRESH_TOKEN_EXPIRES"] - timedelta(minutes=1)
    return db.session.execute(
        delete(AuthSession).where(or_(AuthSession.revoked_at < now - KEEP_ENDED, AuthSession.last_used_at < idle_since))
    ).rowcount
