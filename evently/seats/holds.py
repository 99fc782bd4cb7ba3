"""The hold ledger: claiming a hold's outcome in PostgreSQL, so a hold is booked or released, never both."""
import uuid

import redis
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import SQLAlchemyError

from evently.extensions import db

from . import gate
from .models import SeatHold


def new_hold_id():
    return uuid.uuid4().hex


def outcome(hold_id):
    """'committed', 'released', or None while the hold has no outcome."""
    return db.session.scalar(select(SeatHold.outcome).where(SeatHold.hold_id == hold_id))


def claim_release(*, event_id, hold_id):
    """Win the right to give the hold's seats back. Blocks while a booking
    transaction that claimed it is in flight; False if that one committed."""
    statement = (
        insert(SeatHold)
        .values(hold_id=hold_id, event_id=event_id, outcome="released")
        .on_conflict_do_nothing()
        .returning(SeatHold.hold_id)
    )
    won = db.session.execute(statement).scalar() is not None
    db.session.commit()
    return won


def release_hold(event, *, hold_id):
    """Return a hold that will not be booked. Exactly once: only the claim's
    winner touches Redis, and the Redis script itself is idempotent. If either
    store is down the hold stays and the reaper returns it after it expires."""
    try:
        if claim_release(event_id=event.id, hold_id=hold_id):
            return gate.release(event, hold_id=hold_id)
    except (SQLAlchemyError, redis.exceptions.RedisError):
        db.session.rollback()
    return 0


def finish_hold(event, *, hold_id):
    """After commit: drop the hold from Redis. Best effort: reconcile drops resolved holds too."""
    try:
        gate.finish(event, hold_id=hold_id)
    except redis.exceptions.RedisError:
        pass
