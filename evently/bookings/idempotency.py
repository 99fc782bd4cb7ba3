"""Idempotency-Key handling with Stripe's semantics.

Same key and same body: the first response is replayed and nothing new is
booked. Same key, different body: 422. A duplicate while the first is still in
flight: 409. Errors are not stored, so a failed request can be retried.
The booking's hold id is derived from the key, so even a request that died
after committing but before storing its response is recognised on retry.
"""
import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import SQLAlchemyError

from evently.common.models import utcnow
from evently.errors import IdempotencyInProgress, IdempotencyKeyReused
from evently.extensions import db

from .models import IdempotencyRecord

# An in-progress record older than this belongs to a request that died; a retry may take it over.
STALE_AFTER = timedelta(seconds=60)


@dataclass
class Claim:
    user_id: int
    key: str
    replay_status: int | None = None
    replay_body: dict | None = None

    @property
    def hold_id(self):
        return "idem-" + hashlib.sha256(f"{self.user_id}:{self.key}".encode()).hexdigest()[:40]

    @property
    def is_replay(self):
        return self.replay_status is not None


def request_fingerprint(method, path, body):
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{method} {path} {canonical}".encode()).hexdigest()


def begin(*, user_id, key, fingerprint):
    """Claim the key for this request, or return the stored response to replay.
    Raises IdempotencyKeyReused, IdempotencyInProgress."""
    inserted = db.session.execute(
        insert(IdempotencyRecord).values(user_id=user_id, key=key, request_hash=fingerprint)
        .on_conflict_do_nothing().returning(IdempotencyRecord.key)
    ).scalar()
    db.session.commit()
    if inserted is not None:
        return Claim(user_id, key)
    record = db.session.execute(
        select(IdempotencyRecord).where(IdempotencyRecord.user_id == user_id, IdempotencyRecord.key == key)
    ).scalar_one_or_none()
    if record is None:  # removed by a failing first attempt in between: claim it again
        db.session.rollback()
        return begin(user_id=user_id, key=key, fingerprint=fingerprint)
    if record.request_hash != fingerprint:
        db.session.rollback()
        raise IdempotencyKeyReused()
    if record.state == "done":
        claim = Claim(user_id, key, record.response_status, record.response_body)
        db.session.rollback()
        return claim
    if record.created_at > utcnow() - STALE_AFTER:
        db.session.rollback()
        raise IdempotencyInProgress()
    taken_over = db.session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.user_id == user_id, IdempotencyRecord.key == key,
               IdempotencyRecord.created_at == record.created_at, IdempotencyRecord.state == "in_progress")
        .values(created_at=utcnow())
    ).rowcount
    db.session.commit()
    if not taken_over:
        raise IdempotencyInProgress()
    return Claim(user_id, key)


def complete(claim, *, status, body):
    db.session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.user_id == claim.user_id, IdempotencyRecord.key == claim.key)
        .values(state="done", response_status=status, response_body=body)
    )
    db.session.commit()


def abandon(claim):
    """The request failed: forget the key so the client may retry it. If the
    database is down too, the record goes stale and a retry takes it over."""
    db.session.rollback()
    try:
        db.session.execute(
            delete(IdempotencyRecord).where(IdempotencyRecord.user_id == claim.user_id,
                                            IdempotencyRecord.key == claim.key,
                                            IdempotencyRecord.state == "in_progress")
        )
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
