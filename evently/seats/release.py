"""Seats given back: a cancelled booking, a waiter who leaves, a capacity change.

Each change is mirrored to the gate under the event's row lock before it commits
(exactly once per operation id, so reconcile cannot interleave and a retry
cannot count twice), then a promotion is requested: freed seats go to the queue
first, and only what no waiting entry can take goes back on sale.
"""
import time

from sqlalchemy import select

from evently.bookings.models import Booking
from evently.common.after_commit import on_commit
from evently.common.db import transaction
from evently.common.models import utcnow
from evently.errors import AlreadyCancelled, CapacityBelowBooked, EventStarted, NotFound
from evently.extensions import db
from evently.notifications import outbox
from evently.waitlist.models import WaitlistEntry

from . import gate
from .locking import lock_event
from .promotion import request_promotion


def cancel_booking(*, booking_id):
    """Cancel a booking (the caller has checked who may); its seats go to the waitlist
    first, else back on sale. Raises NotFound, AlreadyCancelled, EventStarted."""
    event_id = db.session.scalar(select(Booking.event_id).where(Booking.id == booking_id))
    if event_id is None:
        raise NotFound("Booking not found.")
    with transaction():
        event = lock_event(event_id)
        booking = db.session.execute(select(Booking).where(Booking.id == booking_id).with_for_update()
                                     .execution_options(populate_existing=True)).scalar_one()
        if booking.status == "cancelled":
            raise AlreadyCancelled()
        if event.starts_at <= utcnow():
            raise EventStarted("Bookings cannot be cancelled after the event has started.")
        booking.status = "cancelled"
        booking.cancelled_at = utcnow()
        event.booked_seats -= booking.quantity
        outbox.booking_cancelled(booking, event)
        db.session.flush()
        gate.tolerating_redis_down(gate.adjust, event, delta=booking.quantity, op_id=f"cancel:{booking.id}")
        on_commit(lambda freed_at=booking.cancelled_at: request_promotion(event_id, seats_freed_at=freed_at))
    return booking


def leave_waitlist(*, user_id, event_id):
    """Take the user's entry off the event's queue; everyone behind moves up. Raises NotFound."""
    with transaction():
        event = lock_event(event_id)
        entry = None if event is None else db.session.execute(
            select(WaitlistEntry)
            .where(WaitlistEntry.event_id == event_id, WaitlistEntry.user_id == user_id,
                   WaitlistEntry.status == "waiting")
            .with_for_update().execution_options(populate_existing=True)
        ).scalar_one_or_none()
        if entry is None:
            raise NotFound("You are not on this event's waitlist.")
        entry.status = "left"
        ref, entry_key = gate.EventRef(event.id, event.gate_token), entry.gate_key
    gate.tolerating_redis_down(gate.unwait, ref, entry_key=entry_key)
    # With one waiter fewer, free seats may now fit someone behind (or go back on sale).
    request_promotion(event_id)
    return entry


def change_capacity(event, *, capacity):
    """Set a locked event's capacity inside the caller's transaction, mirrored to the gate;
    a raise serves the queue once the caller commits. Raises CapacityBelowBooked."""
    if capacity < event.booked_seats:
        raise CapacityBelowBooked(details={"capacity": capacity, "bookedSeats": event.booked_seats})
    delta = capacity - event.capacity
    event.capacity = capacity
    if delta:
        gate.tolerating_redis_down(gate.adjust, event, delta=delta, op_id=f"capacity:{time.time_ns()}")
    if delta > 0:
        event_id = event.id
        on_commit(lambda: request_promotion(event_id))
    return delta
