"""Writing notifications into the outbox, inside the caller's transaction."""
from sqlalchemy.dialects.postgresql import insert

from evently.extensions import db

from .models import Notification


def enqueue(*, dedupe_key, user_id, kind, subject, body, payload=None):
    """Add an outbox row in the current transaction (never commits). The same
    fact written twice (a retried task) stays one row: dedupe_key is unique."""
    db.session.execute(
        insert(Notification)
        .values(dedupe_key=dedupe_key, user_id=user_id, kind=kind, subject=subject, body=body,
                payload=payload or {})
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
    )


def booking_confirmed(booking, event):
    enqueue(
        dedupe_key=f"booking_confirmed:{booking.id}", user_id=booking.user_id, kind="booking_confirmed",
        subject=f"Booking {booking.reference} confirmed",
        body=f"You have {booking.quantity} ticket(s) for {event.title} on {event.starts_at:%Y-%m-%d %H:%M} UTC.",
        payload={"bookingId": booking.id, "eventId": event.id, "reference": booking.reference},
    )


def booking_cancelled(booking, event):
    enqueue(
        dedupe_key=f"booking_cancelled:{booking.id}", user_id=booking.user_id, kind="booking_cancelled",
        subject=f"Booking {booking.reference} cancelled",
        body=f"Your booking of {booking.quantity} ticket(s) for {event.title} was cancelled.",
        payload={"bookingId": booking.id, "eventId": event.id, "reference": booking.reference},
    )
