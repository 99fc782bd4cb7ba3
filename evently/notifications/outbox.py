"""Writing notifications into the outbox, inside the caller's transaction."""
from sqlalchemy.dialects.postgresql import insert

from evently.extensions import db

from .models import Notification


def enqueue(*, dedupe_key, user_id, kind, subject, body, payload=None):
    """Add an outbox row in the current transaction (never commits) and send
    its delivery task once the transaction commits. The same fact written twice
    (a retried task) stays one row: dedupe_key is unique."""
    notification_id = db.session.execute(
        insert(Notification)
        .values(dedupe_key=dedupe_key, user_id=user_id, kind=kind, subject=subject, body=body,
                payload=payload or {})
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(Notification.id)
    ).scalar()
    if notification_id is not None:
        deliver_after_commit(notification_id)
    return notification_id


def deliver_after_commit(notification_id):
    """Hand the row to the relay once the transaction commits; the relay batches
    rows into delivery tasks, and the sweep covers any send that is lost."""
    from flask import current_app

    from evently.common.after_commit import on_commit

    from . import relay

    app = current_app._get_current_object()
    on_commit(lambda: relay.submit(app, notification_id))


def _when(event):
    return f"{event.starts_at:%Y-%m-%d %H:%M} UTC"


def booking_confirmed_text(*, reference, quantity, event):
    """Subject and body of a booking confirmation. The row itself is written by the
    booking's one statement (evently/bookings/writer.py), which alone knows the new
    booking id: dedupe_key `booking_confirmed:<id>`, payload {bookingId, eventId, reference}."""
    return (f"Booking {reference} confirmed",
            f"You have {quantity} ticket(s) for {event.title} on {_when(event)}.")


def booking_cancelled(booking, event):
    enqueue(
        dedupe_key=f"booking_cancelled:{booking.id}", user_id=booking.user_id, kind="booking_cancelled",
        subject=f"Booking {booking.reference} cancelled",
        body=f"Your booking of {booking.quantity} ticket(s) for {event.title} was cancelled.",
        payload={"bookingId": booking.id, "eventId": event.id, "reference": booking.reference},
    )


def waitlist_promoted(booking, event, entry):
    still = f" You are still waiting for {entry.quantity_remaining} more." if entry.quantity_remaining else ""
    enqueue(
        dedupe_key=f"waitlist_promoted:{booking.id}", user_id=booking.user_id, kind="waitlist_promoted",
        subject=f"You got {booking.quantity} ticket(s) for {event.title}",
        body=f"Seats were freed and booking {booking.reference} gives you {booking.quantity} ticket(s) "
             f"for {event.title} on {_when(event)}.{still}",
        payload={"bookingId": booking.id, "eventId": event.id, "reference": booking.reference,
                 "waitlistEntryId": entry.id, "stillWaitingFor": entry.quantity_remaining},
    )


def event_cancelled_for_booking(booking, event):
    enqueue(
        dedupe_key=f"event_cancelled:booking:{booking.id}", user_id=booking.user_id, kind="event_cancelled",
        subject=f"{event.title} is cancelled",
        body=f"{event.title} on {_when(event)} is cancelled; booking {booking.reference} is cancelled "
             f"and {booking.quantity} ticket(s) will be refunded.",
        payload={"bookingId": booking.id, "eventId": event.id, "reference": booking.reference},
    )


def event_cancelled_for_waiter(entry, event):
    enqueue(
        dedupe_key=f"event_cancelled:entry:{entry.id}", user_id=entry.user_id, kind="event_cancelled",
        subject=f"{event.title} is cancelled",
        body=f"{event.title} on {_when(event)} is cancelled; you are no longer on its waitlist.",
        payload={"waitlistEntryId": entry.id, "eventId": event.id},
    )


def password_reset(*, user_id, reset_id, token, minutes, url):
    link = f"{url}{token}" if url else token
    enqueue(
        dedupe_key=f"password_reset:{reset_id}", user_id=user_id, kind="password_reset",
        subject="Reset your Evently password",
        body=f"Someone asked to reset the password of your Evently account. If it was you, use this "
             f"within {minutes} minutes; it works once:\n\n{link}\n\n"
             f"If it was not you, ignore this message: your password stays as it is.",
        payload={"passwordResetId": reset_id},
    )
