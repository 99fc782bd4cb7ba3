"""Writing notifications into the outbox, inside the caller's transaction."""
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert

from evently.common import localtime
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
    """The start in the event's own time zone (mails speak local time; the API speaks UTC)."""
    return localtime.describe(event.starts_at, event.timezone)


def booking_confirmed_text(*, reference, quantity, event):
    """Subject and body of a booking confirmation. The row itself is written by the
    seat engine's one statement (evently/seats/writer.py), which alone knows the new
    booking id: dedupe_key `booking_confirmed:<id>`, payload {bookingId, eventId, reference}."""
    return (f"Booking {reference} confirmed",
            f"You have {quantity} ticket(s) for {event.title} on {_when(event)}.")


def waitlist_promoted_text(*, reference, quantity, event, still_waiting):
    """Subject and body of a promotion from the waitlist, written like a confirmation
    (dedupe_key `waitlist_promoted:<id>`, payload adds {waitlistEntryId, stillWaitingFor})."""
    still = f" You are still waiting for {still_waiting} more." if still_waiting else ""
    return (f"You got {quantity} ticket(s) for {event.title}",
            f"Seats were freed and booking {reference} gives you {quantity} ticket(s) "
            f"for {event.title} on {_when(event)}.{still}")


def booking_cancelled(booking, event, *, seats):
    """The booking gave back `seats`: all of them (cancelled), or part (it keeps the rest).
    One notice per change: the dedupe key counts the seats given back so far."""
    if booking.status == "cancelled":
        subject = f"Booking {booking.reference} cancelled"
        body = f"Your booking of {seats} ticket(s) for {event.title} on {_when(event)} was cancelled."
    else:
        subject = f"Booking {booking.reference} changed: {booking.quantity} ticket(s) kept"
        body = (f"You gave back {seats} ticket(s) for {event.title} on {_when(event)}; "
                f"booking {booking.reference} now holds {booking.quantity}.")
    enqueue(
        dedupe_key=f"booking_cancelled:{booking.id}:{booking.cancelled_quantity}", user_id=booking.user_id,
        kind="booking_cancelled", subject=subject, body=body,
        payload={"bookingId": booking.id, "eventId": event.id, "reference": booking.reference,
                 "seatsGivenBack": seats, "seatsKept": 0 if booking.status == "cancelled" else booking.quantity},
    )


def event_cancelled_for_booking(booking, event):
    # Evently takes no payment, so the mail promises no refund.
    enqueue(
        dedupe_key=f"event_cancelled:booking:{booking.id}", user_id=booking.user_id, kind="event_cancelled",
        subject=f"{event.title} is cancelled",
        body=f"{event.title} on {_when(event)} is cancelled, so booking {booking.reference} for "
             f"{booking.quantity} ticket(s) is cancelled too. Evently took no payment for it: there is "
             f"nothing to pay back and nothing you need to do.",
        payload={"bookingId": booking.id, "eventId": event.id, "reference": booking.reference},
    )


def event_cancelled_for_waiter(entry, event):
    enqueue(
        dedupe_key=f"event_cancelled:entry:{entry.id}", user_id=entry.user_id, kind="event_cancelled",
        subject=f"{event.title} is cancelled",
        body=f"{event.title} on {_when(event)} is cancelled; you are no longer on its waitlist.",
        payload={"waitlistEntryId": entry.id, "eventId": event.id},
    )


def waitlist_removed(entry, event, *, reason=None):
    because = f" The organiser's reason: {reason}" if reason else ""
    enqueue(
        dedupe_key=f"waitlist_removed:{entry.id}", user_id=entry.user_id, kind="waitlist_removed",
        subject=f"You are off the waitlist for {event.title}",
        body=f"The organiser of {event.title} on {_when(event)} took you off its waitlist.{because}",
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


# One statement per event and batch: a reminder for every confirmed booking that has none yet.
# The dedupe key makes it exactly once, however often (or concurrently) beat runs it; the NOT
# EXISTS only spares the statement the conflicts of bookings reminded before.
_REMINDERS = text("""
    INSERT INTO notifications (dedupe_key, user_id, kind, subject, body, payload)
    SELECT 'event_reminder:' || b.id, b.user_id, 'event_reminder', :subject, format(:body, b.quantity, b.reference),
           jsonb_build_object('bookingId', b.id, 'eventId', b.event_id, 'reference', b.reference)
    FROM bookings b
    WHERE b.event_id = :event_id AND b.status = 'confirmed'
      AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.dedupe_key = 'event_reminder:' || b.id)
    ORDER BY b.id
    LIMIT :limit
    ON CONFLICT (dedupe_key) DO NOTHING
    RETURNING id""")


def event_reminders(event, *, limit):
    """Write, in the current transaction, the reminder of up to `limit` confirmed bookings of
    `event` not reminded yet (dedupe_key `event_reminder:<booking id>`, payload {bookingId,
    eventId, reference}), each sent after commit. Returns how many were written."""
    def literal(value):  # text that format() must print as it is
        return value.replace("%", "%%")
    subject = f"Reminder: {event.title} starts {_when(event)}"
    body = (f"{literal(event.title)} starts on {literal(_when(event))} at {literal(event.venue)}. "
            f"You have %s ticket(s) (booking %s); show their QR codes at the door.")
    ids = db.session.execute(_REMINDERS, {"event_id": event.id, "subject": subject, "body": body,
                                          "limit": limit}).scalars().all()
    for notification_id in ids:
        deliver_after_commit(notification_id)
    return len(ids)
