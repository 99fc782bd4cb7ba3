"""Cancelling an event with bookings: every booking cancelled, every waiter
removed, everyone notified, in batches, as a job whose progress an admin can read."""
from datetime import timedelta

from sqlalchemy import func, select

from evently.bookings.models import Booking
from evently.common.models import utcnow
from evently.extensions import db
from evently.notifications import outbox
from evently.notifications.models import BackgroundJob
from evently.waitlist.models import WaitlistEntry

from .models import Event

KIND = "event_cancellation"
BATCH = 200
# A queued or running job untouched this long lost its task (broker outage, dead worker).
STALLED_AFTER = timedelta(seconds=60)


def open_job(event):
    """Record the job in the caller's transaction (never commits); sent after commit."""
    from evently.common.tasks import enqueue_after_commit
    from evently.events.tasks import cancel_event_task

    total = db.session.scalar(select(func.count()).select_from(Booking).where(
        Booking.event_id == event.id, Booking.status == "confirmed"))
    total += db.session.scalar(select(func.count()).select_from(WaitlistEntry).where(
        WaitlistEntry.event_id == event.id, WaitlistEntry.status == "waiting"))
    job = BackgroundJob(kind=KIND, subject_id=event.id, status="queued", total=total, done=0)
    db.session.add(job)
    db.session.flush()
    enqueue_after_commit(cancel_event_task, job.id)
    return job


def run_batch(*, job_id, batch=BATCH):
    """Cancel up to `batch` bookings and waiters; returns the job (status done when finished).
    Idempotent: everything already cancelled is skipped, each notification is written once."""
    job = db.session.execute(select(BackgroundJob).where(BackgroundJob.id == job_id).with_for_update()
                             .execution_options(populate_existing=True)).scalar_one_or_none()
    if job is None or job.status == "done":
        db.session.rollback()
        return job
    event = db.session.execute(select(Event).where(Event.id == job.subject_id).with_for_update()
                               .execution_options(populate_existing=True)).scalar_one()
    bookings = db.session.execute(
        select(Booking).where(Booking.event_id == event.id, Booking.status == "confirmed")
        .order_by(Booking.id).limit(batch).with_for_update()
    ).scalars().all()
    now = utcnow()
    for booking in bookings:
        booking.status = "cancelled"
        booking.cancelled_at = now
        event.booked_seats -= booking.quantity
        outbox.event_cancelled_for_booking(booking, event)
    entries = db.session.execute(
        select(WaitlistEntry).where(WaitlistEntry.event_id == event.id, WaitlistEntry.status == "waiting")
        .order_by(WaitlistEntry.id).limit(batch - len(bookings)).with_for_update()
    ).scalars().all() if len(bookings) < batch else []
    for entry in entries:
        entry.status = "cancelled"
        outbox.event_cancelled_for_waiter(entry, event)
    job.done += len(bookings) + len(entries)
    job.status = "running" if (bookings or entries) else "done"
    if job.status == "done":
        job.done = max(job.done, job.total)
    db.session.commit()
    return job


def latest_job(*, event_id):
    return db.session.scalar(select(BackgroundJob).where(BackgroundJob.kind == KIND, BackgroundJob.subject_id == event_id)
                             .order_by(BackgroundJob.id.desc()).limit(1))


def stalled_jobs():
    ids = db.session.scalars(select(BackgroundJob.id).where(
        BackgroundJob.kind == KIND, BackgroundJob.status.in_(["queued", "running"]),
        BackgroundJob.updated_at < utcnow() - STALLED_AFTER)).all()
    db.session.rollback()
    return ids
