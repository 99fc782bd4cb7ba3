"""Periodic seat-gate work (Celery beat): reconcile, serve waiters reconcile freed seats for, prune ledgers."""
from datetime import timedelta

from celery import shared_task
from sqlalchemy import delete

from evently.common.locks import advisory_lock
from evently.common.models import utcnow
from evently.common.tasks import enqueue
from evently.extensions import db

from . import gate, reconcile
from .models import SeatHold

RECONCILE_LOCK = 7_001
# Ledger rows only matter while their hold could still be in Redis.
HOLD_LEDGER_RETENTION = timedelta(days=1)
IDEMPOTENCY_RETENTION = timedelta(days=1)


@shared_task(name="seats.reconcile_all", acks_late=True)
def reconcile_all():
    """Correct drift on every active event, then ask for promotions wherever
    free seats and waiters meet (seats freed by reaped holds or a lost task)."""
    from evently.waitlist.tasks import promote_waitlist_task

    with advisory_lock(RECONCILE_LOCK) as acquired:
        if not acquired:
            return {"skipped": True}
        report = reconcile.reconcile_all()
    promoted = 0
    for item in report.events:
        state = gate.state(event_id=item.event_id)
        if int(state.get("nwait", 0)) > 0 and int(state.get("avail", 0)) > 0:
            promoted += enqueue(promote_waitlist_task, item.event_id, None)
    return {**report.as_dict(), "promotionsRequested": promoted}


@shared_task(name="seats.prune", acks_late=True)
def prune():
    """Drop ledger rows that can no longer matter: old hold outcomes, expired
    revoked tokens, day-old idempotency records."""
    from evently.auth.models import RevokedToken
    from evently.bookings.models import IdempotencyRecord

    now = utcnow()
    holds = db.session.execute(delete(SeatHold).where(SeatHold.created_at < now - HOLD_LEDGER_RETENTION)).rowcount
    tokens = db.session.execute(delete(RevokedToken).where(RevokedToken.expires_at < now)).rowcount
    keys = db.session.execute(delete(IdempotencyRecord).where(
        IdempotencyRecord.created_at < now - IDEMPOTENCY_RETENTION)).rowcount
    db.session.commit()
    return {"holds": holds, "revokedTokens": tokens, "idempotencyRecords": keys}
