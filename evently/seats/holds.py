"""The hold ledger: claiming a hold's outcome in PostgreSQL, so a hold is booked or released, never both."""
import uuid

import redis
from flask import current_app
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import SQLAlchemyError

from evently.common.batcher import Batcher
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


FINISHER = "evently.hold_finisher"


class HoldFinisher(Batcher):
    """The holds of committed bookings, dropped from Redis a batch at a time off the request's
    path: a booking then ends with its COMMIT, not one more Redis round trip. A hold left
    behind (the process died before its flush, Redis blinked) is harmless: its seats are
    already counted as taken, and reconcile drops every hold resolved in PostgreSQL."""

    name = "evently-hold-finisher"

    def send(self, holds):
        try:
            gate.finish_all(holds)
        except redis.exceptions.RedisError:
            return 0
        return len(holds)


def init_app(app):
    linger = app.config["HOLD_FINISH_LINGER_MS"] / 1000
    app.extensions[FINISHER] = HoldFinisher(app, linger=linger) if linger > 0 else None


def finish_soon(event, *, hold_id):
    """After commit: the hold is done; it leaves Redis with the process's next batch (at once
    when HOLD_FINISH_LINGER_MS is 0)."""
    finisher = current_app.extensions.get(FINISHER)
    if finisher is None:
        finish_hold(event, hold_id=hold_id)
    else:
        finisher.submit((gate.key(event), hold_id))
