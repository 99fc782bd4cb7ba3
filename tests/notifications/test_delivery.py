"""Outbox delivery: sent once, failures recorded and retried with backoff."""
from datetime import timedelta

from sqlalchemy import func, select

from evently.bookings import services as bookings
from evently.common.models import utcnow
from evently.extensions import db
from evently.notifications import services
from evently.notifications.models import Notification
from tests import factories


def pending_row():
    return db.session.scalar(select(Notification).order_by(Notification.id))


def test_booking_writes_its_notification_in_the_same_transaction(app_ctx, user):
    event = factories.make_event(capacity=3)
    booking = bookings.book_seats(user=user, event_id=event.id, quantity=2).booking
    row = pending_row()
    assert (row.kind, row.user_id, row.status, row.dedupe_key) == (
        "booking_confirmed", user.id, "pending", f"booking_confirmed:{booking.id}")
    assert (row.subject, row.payload) == (
        f"Booking {booking.reference} confirmed",
        {"bookingId": booking.id, "eventId": event.id, "reference": booking.reference})
    assert row.body == f"You have 2 ticket(s) for {event.title} on {event.starts_at:%Y-%m-%d %H:%M} UTC."
    assert db.session.scalar(select(func.count()).select_from(Notification)) == 1


def test_a_waitlist_only_answer_writes_no_confirmation(app_ctx, user):
    other_user = factories.make_user()
    event = factories.make_event(capacity=2)
    bookings.book_seats(user=other_user, event_id=event.id, quantity=2)
    result = bookings.book_seats(user=user, event_id=event.id, quantity=2)
    assert (result.booking, result.waitlist_entry.quantity_requested) == (None, 2)
    assert db.session.scalars(select(Notification.user_id)).all() == [other_user.id]


def test_delivery_sends_once_and_marks_sent(app_ctx, user, smtp_server):
    event = factories.make_event(capacity=3)
    bookings.book_seats(user=user, event_id=event.id, quantity=1)
    row = pending_row()
    assert services.deliver(notification_id=row.id).outcome == "sent"
    assert services.deliver(notification_id=row.id).outcome == "already_sent"
    assert len(smtp_server.messages_with(user.email)) == 1
    db.session.expire_all()
    row = pending_row()
    assert (row.status, row.attempts, row.sent_at is not None) == ("sent", 1, True)
    assert "Message-ID: <booking_confirmed." in smtp_server.messages[0]


def test_failures_are_recorded_and_retried_with_backoff(app_ctx, user, smtp_server):
    smtp_server.failures_left = 2
    event = factories.make_event(capacity=3)
    bookings.book_seats(user=user, event_id=event.id, quantity=1)
    row = pending_row()
    assert services.deliver(notification_id=row.id).outcome == "retry"
    db.session.expire_all()
    row = pending_row()
    assert row.attempts == 1 and "451" in row.last_error and row.next_attempt_at > utcnow()
    assert services.deliver(notification_id=row.id).outcome == "not_due"
    for attempt in (2, 3):
        row.next_attempt_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
        outcome = services.deliver(notification_id=row.id).outcome
        db.session.expire_all()
        row = pending_row()
        assert outcome == ("retry" if attempt == 2 else "sent")
        assert row.attempts == attempt
    assert row.status == "sent" and row.last_error is None
    assert len(smtp_server.messages_with(user.email)) == 1


def test_gives_up_after_the_maximum_attempts(app, app_ctx, user, smtp_server):
    smtp_server.failures_left = 100
    app.config["NOTIFICATION_MAX_ATTEMPTS"] = 2
    try:
        event = factories.make_event(capacity=3)
        bookings.book_seats(user=user, event_id=event.id, quantity=1)
        row = pending_row()
        services.deliver(notification_id=row.id)
        row.next_attempt_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
        assert services.deliver(notification_id=row.id).outcome == "failed"
        db.session.expire_all()
        assert (pending_row().status, pending_row().attempts) == ("failed", 2)
    finally:
        app.config["NOTIFICATION_MAX_ATTEMPTS"] = 8


def test_without_smtp_the_log_is_the_mailer(app_ctx, user, caplog):
    event = factories.make_event(capacity=3)
    bookings.book_seats(user=user, event_id=event.id, quantity=1)
    row = pending_row()
    with caplog.at_level("INFO", logger="evently.mail"):
        assert services.deliver(notification_id=row.id).outcome == "sent"
    assert user.email in caplog.text


def test_sweep_finds_due_rows_but_leaves_fresh_ones_to_their_task(app_ctx, user):
    event = factories.make_event(capacity=3)
    bookings.book_seats(user=user, event_id=event.id, quantity=1)
    assert services.due_notifications() == []
    row = pending_row()
    row.updated_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    assert services.due_notifications() == [row.id]


def test_the_event_cancelled_mail_promises_no_refund(app_ctx, user):
    """Evently takes no money: the mail used to say the tickets "will be refunded"."""
    from evently.seats import cancellation

    event = factories.make_event(capacity=3)
    bookings.book_seats(user=user, event_id=event.id, quantity=2)
    cancellation.run_batch(job_id=cancellation.remove_event(event_id=event.id).job.id)

    notice = db.session.scalar(select(Notification).where(Notification.kind == "event_cancelled"))
    assert "refund" not in notice.body
    assert "Evently took no payment" in notice.body
