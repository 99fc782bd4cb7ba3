"""The per-account login throttle, counted in PostgreSQL.

Each attempt to prove an account's password (login, password change) is counted *before*
the password is checked, in one atomic statement, so concurrent guesses can never exceed
LOGIN_MAX_FAILURES within LOGIN_FAILURE_WINDOW_SECONDS; a success clears the count. Past the
limit the address is locked until its window ends and gets the same answer as a wrong
password. It lives in PostgreSQL, not in the limiter's Redis, so it is exact across
processes and holds while Redis is down (the per-IP limits then fall back to each process's
memory; docs/security.md).
"""
import hashlib
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, text

from evently.common.models import utcnow
from evently.extensions import db

from .models import LoginThrottle

_COUNT_ATTEMPT = text("""
INSERT INTO login_throttles AS t (email_digest, attempts, window_started_at) VALUES (:digest, 1, now())
ON CONFLICT (email_digest) DO UPDATE SET
    attempts = CASE WHEN t.window_started_at <= now() - make_interval(secs => :window) THEN 1 ELSE t.attempts + 1 END,
    window_started_at = CASE WHEN t.window_started_at <= now() - make_interval(secs => :window)
                             THEN now() ELSE t.window_started_at END
RETURNING attempts
""")


def digest(email):
    """The key for an already normalised address."""
    return hashlib.sha256(email.encode("utf-8")).hexdigest()


def count_attempt(email):
    """Count one attempt for `email` in the current transaction; True if it may be checked.
    The caller commits right away: the row stays locked until then."""
    config = current_app.config
    attempts = db.session.execute(_COUNT_ATTEMPT, {"digest": digest(email),
                                                  "window": config["LOGIN_FAILURE_WINDOW_SECONDS"]}).scalar_one()
    return attempts <= config["LOGIN_MAX_FAILURES"]


def clear(email):
    """Forget the attempts for `email` (a proven password, a reset)."""
    db.session.execute(delete(LoginThrottle).where(LoginThrottle.email_digest == digest(email)))


def prune():
    """Delete the windows that ended (never commits); returns how many."""
    ended = utcnow() - timedelta(seconds=current_app.config["LOGIN_FAILURE_WINDOW_SECONDS"])
    return db.session.execute(delete(LoginThrottle).where(LoginThrottle.window_started_at <= ended)).rowcount
