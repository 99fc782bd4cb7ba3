"""Removing an event: deleted if nobody ever booked or waited for it, otherwise cancelled,
with a job that cancels every booking and waiter in batches and notifies each of them."""
from dataclasses import dataclass
from datetime import timedelta

import redis
from sqlalchemy import exists, func, select

from evently.bookings.models import Booking
from evently.common.db import transaction
from evently.common.models import utcnow
from evently.common.tasks import enqueue_after_commit
from evently.errors import EventCancelled, NotFound
from evently.extensions import db
from evently.notifications import outbox
from evently.notifications.models import BackgroundJob
from evently.waitlist.models import WaitlistEntry

from . import gate, tickets
from .locking import lock_event

KIND = "event_cancellation"
CANCEL_TASK = "events.cancel_event"
BATCH = 200
# A queued or running job untouched this long lost its task (broker outage, dead worker).
STALLED_AFTER = timedelta(seconds=60)


@dataclass(frozen=True)
class Removal:
    """`deleted` when the row is gone; otherwise the event is cancelled and `job` cancels its bookings."""
    event_id: int
    deleted: bool
    job: BackgroundJob | None = None


def remove_event(*, event_id, auditor=None):
    """Delete an event nobody ever booked, waited for or holds seats of; cancel any other.
    Cancelling stops sales at once (status and gate) and records the job that cancels
    the bookings and waiters and notifies each of them. Raises NotFound, EventCancelled."""
    with transaction():
        # Locked FOR UPDATE: a booking's or a join's write waits for us, so "nobody" stays true.
        event = lock_event(event_id)
        if event is None:
            raise NotFound("Event not found.")
        if event.status == "cancelled":
            raise EventCancelled("This event is already cancelled.")
        ref, before = gate.EventRef(event.id, event.gate_token), {"status": event.status}
        if _anyone_ever(event):
            event.status = "cancelled"
            event.revision += 1
            job = open_job(event)
            gate.tolerating_redis_down(gate.close, ref)
            _audit(auditor, "event.cancel", event_id, before=before, after={"status": "cancelled", "jobId": job.id})
            return Removal(event_id=event_id, deleted=False, job=job)
        db.session.delete(event)
        gate.tolerating_redis_down(gate.close, ref)
        _audit(auditor, "event.delete", event_id, before=before, after=None)
    return Removal(event_id=event_id, deleted=True)


def _audit(auditor, action, event_id, *, before, after):
    if auditor is not None:
        auditor.record(action=action, subject_type="event", subject_id=event_id, event_id=event_id,
                       before=before, after=after)


def _anyone_ever(event):
    """Any booking or waitlist entry, whatever its status, or a request holding seats in flight.
    If Redis cannot say, assume someone: cancelling an event nobody held loses nothing."""
    if db.session.scalar(select(exists().where(Booking.event_id == event.id)
                                | exists().where(WaitlistEntry.event_id == event.id))):
        return True
    try:
        return bool(gate.holds(event))
    except redis.exceptions.RedisError:
        return True


def open_job(event):
    """Record the job in the caller's transaction (never commits); sent after commit."""
    job = BackgroundJob(kind=KIND, subject_id=event.id, status="queued", total=_left_to_cancel(event.id), done=0)
    db.session.add(job)
    db.session.flush()
    enqueue_after_commit(CANCEL_TASK, job.id)
    return job


def _left_to_cancel(event_id):
    bookings = select(func.count()).select_from(Booking).where(Booking.event_id == event_id,
                                                               Booking.status == "confirmed")
    waiters = select(func.count()).select_from(WaitlistEntry).where(WaitlistEntry.event_id == event_id,
                                                                    WaitlistEntry.status == "waiting")
    return db.session.scalar(bookings) + db.session.scalar(waiters)


def run_batch(*, job_id, batch=BATCH):
    """Cancel up to `batch` bookings and waiters; returns the job (status done when finished).
    Idempotent: everything already cancelled is skipped, each notification is written once.
    The total is recounted each batch (what is done plus what is left), so it never reads
    "179 of 177" when entries changed after the job was opened."""
    job = db.session.execute(select(BackgroundJob).where(BackgroundJob.id == job_id).with_for_update()
                             .execution_options(populate_existing=True)).scalar_one_or_none()
    if job is None or job.status == "done":
        db.session.rollback()
        return job
    event = lock_event(job.subject_id)
    bookings = db.session.execute(
        select(Booking).where(Booking.event_id == event.id, Booking.status == "confirmed")
        .order_by(Booking.id).limit(batch).with_for_update()
    ).scalars().all()
    now = utcnow()
    for booking in bookings:
        booking.status = "cancelled"
        booking.cancelled_at = now
        booking.cancelled_quantity += booking.quantity
        event.booked_seats -= booking.quantity
        outbox.event_cancelled_for_booking(booking, event)
    tickets.void_bookings([booking.id for booking in bookings])
    entries = db.session.execute(
        select(WaitlistEntry).where(WaitlistEntry.event_id == event.id, WaitlistEntry.status == "waiting")
        .order_by(WaitlistEntry.id).limit(batch - len(bookings)).with_for_update()
    ).scalars().all() if len(bookings) < batch else []
    for entry in entries:
        entry.status = "cancelled"
        outbox.event_cancelled_for_waiter(entry, event)
    db.session.flush()
    job.done += len(bookings) + len(entries)
    job.total = job.done + _left_to_cancel(event.id)
    job.status = "running" if job.total > job.done else "done"
    db.session.commit()
    return job


def latest_job(*, event_id):
    return db.session.scalar(select(BackgroundJob).where(BackgroundJob.kind == KIND,
                                                         BackgroundJob.subject_id == event_id)
                             .order_by(BackgroundJob.id.desc()).limit(1))


def stalled_jobs():
    ids = db.session.scalars(select(BackgroundJob.id).where(
        BackgroundJob.kind == KIND, BackgroundJob.status.in_(["queued", "running"]),
        BackgroundJob.updated_at < utcnow() - STALLED_AFTER)).all()
    db.session.rollback()
    return ids
