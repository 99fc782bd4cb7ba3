"""The seat engine's Celery tasks: promotion, event cancellation jobs, and the periodic reconcile and pruning."""
from datetime import timedelta

from celery import shared_task
from sqlalchemy import delete

from evently.bookings.models import IdempotencyRecord
from evently.common.locks import advisory_lock
from evently.common.models import utcnow
from evently.common.tasks import RETRY_OPTIONS, enqueue
from evently.extensions import db

from . import cancellation, gate, promotion, reconcile
from .models import SeatHold

RECONCILE_LOCK = 7_001
# Ledger rows only matter while their hold could still be in Redis.
HOLD_LEDGER_RETENTION = timedelta(days=1)
IDEMPOTENCY_RETENTION = timedelta(days=1)


@shared_task(name=promotion.PROMOTE_TASK, acks_late=True, **RETRY_OPTIONS)
def promote_waitlist_task(event_id, seats_freed_at=None):
    report = promotion.promote_waitlist(event_id=event_id, seats_freed_at=seats_freed_at)
    if report.more:  # keep each run short (well inside the broker's visibility timeout)
        enqueue(promote_waitlist_task, event_id, seats_freed_at)
    return report.as_dict()


@shared_task(name=cancellation.CANCEL_TASK, acks_late=True, **RETRY_OPTIONS)
def cancel_event_task(job_id):
    """One batch per run, then re-enqueue: each run stays far inside the visibility timeout."""
    job = cancellation.run_batch(job_id=job_id)
    if job is not None and job.status != "done":
        enqueue(cancel_event_task, job_id)
    return {"jobId": job_id, "status": job.status if job else "missing", "done": job.done if job else 0}


@shared_task(name="events.resume_cancellations", acks_late=True)
def resume_cancellations():
    """Beat: pick up cancellation jobs whose task was lost."""
    ids = cancellation.stalled_jobs()
    for job_id in ids:
        enqueue(cancel_event_task, job_id)
    return {"resumed": len(ids)}


@shared_task(name="seats.reconcile_all", acks_late=True)
def reconcile_all():
    """Correct drift on every active event, then ask for promotions wherever
    free seats and waiters meet (seats freed by reaped holds or a lost task)."""
    with advisory_lock(RECONCILE_LOCK) as acquired:
        if not acquired:
            return {"skipped": True}
        report = reconcile.reconcile_all()
    promoted = 0
    for event_id in waiting_with_free_seats(item.event_id for item in report.events):
        promoted += promotion.request_promotion(event_id)
    return {**report.as_dict(), "promotionsRequested": promoted}


def waiting_with_free_seats(event_ids):
    """Events whose gate has waiters and free seats (whether they fit is the promotion's to decide)."""
    refs = [ref for ref in map(gate.ref, event_ids) if ref is not None]
    db.session.rollback()
    for ref in refs:
        state = gate.state(ref)
        if int(state.get("nwait", 0)) > 0 and int(state.get("avail", 0)) > 0:
            yield ref.id


@shared_task(name="seats.prune", acks_late=True)
def prune():
    """Drop ledger rows that can no longer matter: old hold outcomes, day-old idempotency records."""
    now = utcnow()
    holds = db.session.execute(delete(SeatHold).where(SeatHold.created_at < now - HOLD_LEDGER_RETENTION)).rowcount
    keys = db.session.execute(delete(IdempotencyRecord).where(
        IdempotencyRecord.created_at < now - IDEMPOTENCY_RETENTION)).rowcount
    db.session.commit()
    return {"holds": holds, "idempotencyRecords": keys}
