"""Idempotency-Key on POST /api/bookings, with Stripe's semantics.

A key maps to an outcome, never to a hold. Each execution of a key gets a fresh
execution id (and the engine a fresh hold id), and records the answer it gives in
the same transaction as its booking, only while it still holds the key, so a
booking and the answer to replay commit together or not at all.

- Same key and body once the first request finished, with a success or a 4xx
  business error: that answer is replayed and nothing new is booked.
- Same key, different body: 422. Same key while the first still runs: 409.
- A first execution that died (its record stayed in progress past STALE_AFTER)
  may be executed again: the retry takes the key over under a new execution id;
  were the old one only slow, it can no longer record an outcome and rolls back.
- A 5xx (a dependency down) is no outcome: the key is released for a retry.
A retry therefore never loops on 503 and never parks seats in a dead hold.
"""
import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import SQLAlchemyError

from evently.common.models import utcnow
from evently.errors import AppError, IdempotencyInProgress, IdempotencyKeyReused, error_payload
from evently.extensions import db

from .models import IdempotencyRecord

# An in-progress record older than this belongs to a request that died (gunicorn ends
# any request long before); a retry may take it over.
STALE_AFTER = timedelta(seconds=60)


@dataclass
class Claim:
    user_id: int
    key: str
    execution_id: str | None = None
    status: int | None = None
    body: dict | None = None
    replayed: bool = False


def request_fingerprint(method, path, body):
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{method} {path} {canonical}".encode()).hexdigest()


def begin(*, user_id, key, fingerprint):
    """Claim the key for a new execution, or return the recorded answer to replay.
    Raises IdempotencyKeyReused, IdempotencyInProgress."""
    execution_id = uuid.uuid4().hex
    inserted = db.session.execute(
        insert(IdempotencyRecord).values(user_id=user_id, key=key, request_hash=fingerprint,
                                         execution_id=execution_id)
        .on_conflict_do_nothing().returning(IdempotencyRecord.key)
    ).scalar()
    db.session.commit()
    if inserted is not None:
        return Claim(user_id, key, execution_id)
    record = db.session.execute(
        select(IdempotencyRecord).where(IdempotencyRecord.user_id == user_id, IdempotencyRecord.key == key)
    ).scalar_one_or_none()
    db.session.rollback()
    if record is None:  # released by a failing first execution in between: claim it again
        return begin(user_id=user_id, key=key, fingerprint=fingerprint)
    if record.request_hash != fingerprint:
        raise IdempotencyKeyReused()
    if record.state == "done":
        return Claim(user_id, key, status=record.response_status, body=record.response_body, replayed=True)
    if record.created_at > utcnow() - STALE_AFTER:
        raise IdempotencyInProgress()
    taken_over = db.session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.user_id == user_id, IdempotencyRecord.key == key,
               IdempotencyRecord.state == "in_progress",
               IdempotencyRecord.execution_id.is_not_distinct_from(record.execution_id))
        .values(execution_id=execution_id, created_at=utcnow())
    ).rowcount
    db.session.commit()
    if not taken_over:
        raise IdempotencyInProgress()
    return Claim(user_id, key, execution_id)


def execute(claim, *, run, render):
    """Run the request once for `claim`; afterwards claim.status and claim.body are its answer.
    `run(on_recorded)` must call `on_recorded(result)` inside the transaction that records its
    outcome; `render(result)` gives the response body. A 4xx business error is recorded and
    re-raised; any other failure releases the key and is re-raised."""

    def on_recorded(result):
        claim.status, claim.body = 201, render(result)
        _record(claim)

    try:
        run(on_recorded)
    except AppError as error:
        if not _is_outcome(error):
            abandon(claim)
            raise
        db.session.rollback()
        claim.status, claim.body = error.status, error_payload(error.code, error.message, error.details)
        try:
            _record(claim)
            db.session.commit()
        except (IdempotencyInProgress, SQLAlchemyError):
            db.session.rollback()  # taken over, or the database is gone: the client still gets its answer
        raise
    except BaseException:
        abandon(claim)
        raise
    return claim


def _is_outcome(error):
    """A business answer to replay: a 4xx the request itself earned, not one about the key."""
    return 400 <= error.status < 500 and not isinstance(error, IdempotencyInProgress)


def _record(claim):
    """Mark the key done with the claim's answer, in the caller's transaction (never commits),
    only while this execution still holds it. Raises IdempotencyInProgress if it was taken over."""
    recorded = db.session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.user_id == claim.user_id, IdempotencyRecord.key == claim.key,
               IdempotencyRecord.execution_id == claim.execution_id, IdempotencyRecord.state == "in_progress")
        .values(state="done", response_status=claim.status, response_body=claim.body)
    ).rowcount
    if not recorded:
        raise IdempotencyInProgress("This Idempotency-Key was taken over by a retry; its answer stands.")


def abandon(claim):
    """The execution failed without an outcome: release the key so the client may retry. If the
    database is down too, the record goes stale and a retry takes it over."""
    db.session.rollback()
    try:
        db.session.execute(
            delete(IdempotencyRecord).where(IdempotencyRecord.user_id == claim.user_id,
                                            IdempotencyRecord.key == claim.key,
                                            IdempotencyRecord.execution_id == claim.execution_id,
                                            IdempotencyRecord.state == "in_progress")
        )
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
