"""Plain factory functions for test data (committed for real)."""
import itertools
import secrets
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import select

from evently.auth import sessions
from evently.auth.models import AuthSession, User
from evently.auth.passwords import hash_password
from evently.events.models import Event
from evently.extensions import db

_counter = itertools.count(1)
PASSWORD = "correct horse battery"
# argon2 at its default cost is slow by design; tests hash once and reuse it.
_PASSWORD_HASH = None


def password_hash():
    global _PASSWORD_HASH
    if _PASSWORD_HASH is None:
        _PASSWORD_HASH = hash_password(PASSWORD)
    return _PASSWORD_HASH


def make_user(*, email=None, name="Test User", role="user"):
    user = User(email=email or f"user{next(_counter)}@example.com", name=name, role=role,
                password_hash=password_hash())
    db.session.add(user)
    db.session.commit()
    return user


def make_users(count):
    users = [User(email=f"racer{next(_counter)}@example.com", name="Racer", role="user",
                  password_hash=password_hash()) for _ in range(count)]
    db.session.add_all(users)
    db.session.commit()
    return users


def make_event(*, capacity=100, status="published", price="25.00", starts_in=timedelta(days=7),
               title=None, venue="Main Hall", max_per_booking=10, currency="USD", booked_seats=0, max_per_user=None,
               zone="UTC"):
    starts_at = datetime.now(timezone.utc) + starts_in
    event = Event(title=title or f"Event {next(_counter)}", description="A test event", venue=venue,
                  starts_at=starts_at, ends_at=starts_at + timedelta(hours=3), capacity=capacity,
                  booked_seats=booked_seats, price=Decimal(price), currency=currency, status=status,
                  max_per_booking=max_per_booking, max_per_user=max_per_user, timezone=zone)
    db.session.add(event)
    db.session.commit()
    return event


def start_session(user, *, family_id=None):
    """A live session (token family) for `user` (a User or an id) and its tokens, as a login
    would open one. `family_id` fixes the session's id, so a test can re-create it after a wipe."""
    user_id = user if isinstance(user, int) else user.id
    role = db.session.scalar(select(User.role).where(User.id == user_id))
    family_id = family_id or secrets.token_hex(16)
    refresh_jti = str(uuid.uuid4())
    db.session.add(AuthSession(id=family_id, user_id=user_id, refresh_jti=refresh_jti))
    db.session.commit()
    return sessions.mint(user_id=user_id, role=role, family_id=family_id, refresh_jti=refresh_jti)


def access_token(user, *, family_id=None):
    return start_session(user, family_id=family_id).access_token


def auth_headers(user, *, family_id=None):
    return {"Authorization": f"Bearer {access_token(user, family_id=family_id)}"}
