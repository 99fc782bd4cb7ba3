"""Is a token's session still live? Asked on every authenticated request, so answered from Redis,
with PostgreSQL (auth_sessions, the truth) behind it.

Per session one key, `evently:session:<family id>`:
- `live:<user id>` while the session is live, for at most SESSION_CACHE_SECONDS: written at
  login and refresh, and read through from PostgreSQL when missing (SET NX, so it can never
  overwrite a tombstone written meanwhile);
- `ended` once the session has ended, written after the commit that ends it, for as long as
  its access tokens can live (a refresh is always checked in PostgreSQL).
Redis unreachable: every check goes to PostgreSQL (fail safe, and check-in at the door keeps
working). A check reads Redis once, without retries, and after a failure each process asks
PostgreSQL alone for REDIS_PAUSE_SECONDS: a stalled Redis costs one socket timeout per process
and pause, not one per request. The one gap: a session ended while Redis is unreachable but
keeping its data can answer `live` until that key expires, SESSION_CACHE_SECONDS at most
(docs/security.md).
"""
import logging
import time

import redis
from flask import current_app
from sqlalchemy import bindparam, select

from evently.common.after_commit import on_commit
from evently.extensions import db, redis_client

from .models import AuthSession

log = logging.getLogger(__name__)
_ENDED = "ended"
_SESSIONS = AuthSession.__table__
# Built once, run on the session's connection: a primary-key lookup on every cache miss.
_LIVE = select(_SESSIONS.c.id).where(_SESSIONS.c.id == bindparam("family_id"),
                                     _SESSIONS.c.user_id == bindparam("user_id"),
                                     _SESSIONS.c.revoked_at.is_(None))


def key(family_id):
    return f"evently:session:{family_id}"


REDIS_PAUSE_SECONDS = 5.0
_PAUSED_UNTIL = "evently.session_redis_paused_until"  # per app and process: a monotonic time


def is_live(*, user_id, family_id):
    """Whether the session (token family) is live and belongs to the user."""
    if time.monotonic() < current_app.extensions.get(_PAUSED_UNTIL, 0.0):
        return _live_in_postgres(user_id, family_id)
    try:
        cached = redis_client.one_try.get(key(family_id))
    except redis.exceptions.RedisError:
        current_app.extensions[_PAUSED_UNTIL] = time.monotonic() + REDIS_PAUSE_SECONDS
        return _live_in_postgres(user_id, family_id)
    if cached is not None:
        return cached == f"live:{user_id}"
    live = _live_in_postgres(user_id, family_id)
    _remember(family_id, f"live:{user_id}" if live else _ENDED, only_if_absent=True)
    return live


def _live_in_postgres(user_id, family_id):
    return db.session.connection().execute(_LIVE, {"family_id": family_id, "user_id": user_id}).first() is not None


def opened(*, user_id, family_id):
    """After the commit that opened (or refreshed) a session: its first checks need no PostgreSQL."""
    on_commit(lambda: _remember(family_id, f"live:{user_id}", only_if_absent=True))


def ended(family_ids):
    """After the commit that ended these sessions: their tokens are refused from then on."""
    family_ids = list(family_ids)
    if family_ids:
        on_commit(lambda: _end(family_ids))


def _remember(family_id, value, *, only_if_absent):
    seconds = (current_app.config["SESSION_CACHE_SECONDS"] if value != _ENDED
               else int(current_app.config["JWT_ACCESS_TOKEN_EXPIRES"].total_seconds()) + 60)
    try:
        redis_client.set(key(family_id), value, ex=seconds, nx=only_if_absent)
    except redis.exceptions.RedisError:
        pass  # the next check reads PostgreSQL again


def _end(family_ids):
    seconds = int(current_app.config["JWT_ACCESS_TOKEN_EXPIRES"].total_seconds()) + 60
    try:
        pipe = redis_client.pipeline(transaction=False)
        for family_id in family_ids:
            pipe.set(key(family_id), _ENDED, ex=seconds)
        pipe.execute()
    except redis.exceptions.RedisError:
        log.warning("could not mark %d ended session(s) in Redis; their cached 'live' expires within %s s",
                    len(family_ids), current_app.config["SESSION_CACHE_SECONDS"])
