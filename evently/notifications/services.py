"""Delivering outbox rows: each one sent once, failures retried with backoff and recorded."""
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from evently.auth.models import User
from evently.common.models import utcnow
from evently.extensions import db
from evently.ops.metrics import NOTIFICATIONS

from . import attachments, mailer
from .models import BLANKED_BODY, SECRET_BEARING_KINDS, Notification

# Rows younger than this were just enqueued after their commit; the sweep leaves them to that task.
SWEEP_GRACE = timedelta(seconds=10)


@dataclass
class Delivery:
    notification_id: int
    outcome: str  # sent | already_sent | busy | missing | retry | failed | not_due


def backoff(attempts):
    return timedelta(seconds=min(2 ** attempts * 5, 3600))


def deliver(*, notification_id):
    """Send one notification unless it was sent already. The row stays locked
    while sending, so two deliveries of the same row never both send."""
    row = db.session.execute(
        select(Notification).where(Notification.id == notification_id)
        .with_for_update(skip_locked=True).execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if row is None:
        exists = db.session.get(Notification, notification_id) is not None
        db.session.rollback()
        return Delivery(notification_id, "busy" if exists else "missing")
    if row.status != "pending":
        db.session.rollback()
        return Delivery(notification_id, "already_sent" if row.status == "sent" else row.status)
    if row.next_attempt_at > utcnow():
        db.session.rollback()
        return Delivery(notification_id, "not_due")
    email = db.session.scalar(select(User.email).where(User.id == row.user_id))
    row.attempts += 1
    try:
        mailer.send(to=email, subject=row.subject, body=row.body, message_id=row.dedupe_key.replace(":", "."),
                    attachments=attachments.for_notification(kind=row.kind, payload=row.payload))
    except Exception as error:  # noqa: BLE001 - any delivery failure is recorded and retried
        row.last_error = f"{error.__class__.__name__}: {error}"[:1000]
        if row.attempts >= current_app.config["NOTIFICATION_MAX_ATTEMPTS"]:
            row.status = "failed"
            _blank_secret(row)
        else:
            row.next_attempt_at = utcnow() + backoff(row.attempts)
        db.session.commit()
        NOTIFICATIONS.labels("failed" if row.status == "failed" else "retry").inc()
        return Delivery(notification_id, "failed" if row.status == "failed" else "retry")
    row.status = "sent"
    row.sent_at = utcnow()
    row.last_error = None
    _blank_secret(row)
    db.session.commit()
    NOTIFICATIONS.labels("sent").inc()
    return Delivery(notification_id, "sent")


def _blank_secret(row):
    if row.kind in SECRET_BEARING_KINDS:
        row.body = BLANKED_BODY


def due_notifications(limit=500):
    """Pending rows whose next attempt is due and that no fresh task is about to handle."""
    now = utcnow()
    ids = db.session.scalars(
        select(Notification.id)
        .where(Notification.status == "pending", Notification.next_attempt_at <= now,
               Notification.updated_at <= now - SWEEP_GRACE)
        .order_by(Notification.next_attempt_at).limit(limit)
    ).all()
    db.session.rollback()
    return ids
