"""Seats given back and queue changes: cancelling all or part of a booking, a waiter who
leaves or is removed, a moved entry, a capacity change, a paused or resumed queue.

Each change is mirrored to the gate under the event's row lock before it commits
(exactly once per operation id, so reconcile cannot interleave and a retry
cannot count twice), then a promotion is requested: freed seats go to the queue
first, and only what no waiting entry can take goes back on sale. An admin's
change is recorded through the auditor it is given, in the same transaction.
"""
import time
from decimal import Decimal

from sqlalchemy import select

from evently.audit.log import snapshot
from evently.bookings.models import Booking
from evently.common.after_commit import on_commit
from evently.common.db import transaction
from evently.common.models import utcnow
from evently.errors import AlreadyCancelled, CapacityBelowBooked, EventStarted, NotFound, ValidationError
from evently.extensions import db
from evently.notifications import outbox
from evently.waitlist.models import QUEUE_ORDER, WaitlistEntry

from . import gate, tickets
from .locking import lock_event
from .promotion import request_promotion

BOOKING_FIELDS = ("status", "quantity", "cancelled_quantity", "total_amount")


def cancel_seats(*, booking_id, quantity=None, auditor=None):
    """Give back `quantity` of a booking's seats (all of them when None or equal to what it
    holds: the booking is then cancelled); the caller has checked who may. The booking keeps
    the rest, its total recomputed, and as many valid tickets (tickets.keep_only). Freed seats
    go to the waitlist first, else back on sale.
    Raises NotFound, AlreadyCancelled, EventStarted, ValidationError (more than it holds)."""
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
        seats = booking.quantity if quantity is None else quantity
        if seats > booking.quantity:
            raise ValidationError(details={"quantity": [f"This booking holds {booking.quantity} seats."]})
        before = snapshot(booking, BOOKING_FIELDS)
        booking.cancelled_quantity += seats
        if seats == booking.quantity:
            booking.status = "cancelled"
            booking.cancelled_at = utcnow()
        else:
            booking.quantity -= seats
            booking.total_amount = booking.unit_price * booking.quantity
        event.booked_seats -= seats
        tickets.keep_only(booking_id=booking.id, keep=0 if booking.status == "cancelled" else booking.quantity)
        outbox.booking_cancelled(booking, event, seats=seats)
        db.session.flush()
        if auditor is not None:
            auditor.record(action="booking.cancel", subject_type="booking", subject_id=booking.id,
                           event_id=event_id, before=before, after=snapshot(booking, BOOKING_FIELDS))
        # The op id counts the seats given back so far: one per change, the same on a retry.
        gate.tolerating_redis_down(gate.adjust, event, delta=seats,
                                   op_id=f"cancel:{booking.id}:{booking.cancelled_quantity}")
        on_commit(lambda freed_at=utcnow(): request_promotion(event_id, seats_freed_at=freed_at))
    return booking


def _locked_waiting_entry(event_id, **where):
    return db.session.execute(
        select(WaitlistEntry)
        .where(WaitlistEntry.event_id == event_id, WaitlistEntry.status == "waiting",
               *[getattr(WaitlistEntry, name) == value for name, value in where.items()])
        .with_for_update().execution_options(populate_existing=True)
    ).scalar_one_or_none()


def end_wait(*, event_id, status, auditor=None, not_found="You are not on this event's waitlist.", **where):
    """Take a waiting entry off the queue: `left` (its user leaves) or `removed` (an admin,
    who is recorded and whose reason the user is told). Everyone behind moves up.
    Raises NotFound."""
    with transaction():
        event = lock_event(event_id)
        entry = None if event is None else _locked_waiting_entry(event_id, **where)
        if entry is None:
            raise NotFound(not_found)
        entry.status = status
        if status == "removed":
            outbox.waitlist_removed(entry, event, reason=auditor.reason if auditor else None)
        if auditor is not None:
            auditor.record(action="waitlist.remove", subject_type="waitlist_entry", subject_id=entry.id,
                           event_id=event_id, before={"status": "waiting"}, after={"status": status})
        ref, entry_key = gate.EventRef(event.id, event.gate_token), entry.gate_key
    gate.tolerating_redis_down(gate.unwait, ref, entry_key=entry_key)
    # With one waiter fewer, free seats may now fit someone behind (or go back on sale).
    request_promotion(event_id)
    return entry


def leave_waitlist(*, user_id, event_id):
    """The user leaves the event's queue. Raises NotFound."""
    return end_wait(event_id=event_id, status="left", user_id=user_id)


def remove_entry(*, event_id, entry_id, auditor):
    """An admin takes an entry off the queue; its user is notified. Raises NotFound."""
    return end_wait(event_id=event_id, status="removed", auditor=auditor, id=entry_id,
                    not_found="No such entry waits for this event.")


def move_entry(*, event_id, entry_id, position, auditor):
    """Put a waiting entry at `position` (1 = next served) of its event's queue, between the
    entries now there. Raises NotFound, ValidationError (a position past the end)."""
    with transaction():
        event = lock_event(event_id)
        entry = None if event is None else _locked_waiting_entry(event_id, id=entry_id)
        if entry is None:
            raise NotFound("No such entry waits for this event.")
        others = db.session.execute(
            select(WaitlistEntry.id, WaitlistEntry.queue_seq)
            .where(WaitlistEntry.event_id == event_id, WaitlistEntry.status == "waiting", WaitlistEntry.id != entry_id)
            .order_by(*QUEUE_ORDER)).all()
        if position > len(others) + 1:
            raise ValidationError(details={"position": [f"The queue has {len(others) + 1} entries."]})
        before = {"position": 1 + sum(1 for other in others if (other.queue_seq, other.id) < (entry.queue_seq, entry.id))}
        entry.queue_seq = _seq_between(others, position)
        if position > len(others):  # the back: joins from now on must come after it
            gate.tolerating_redis_down(gate.number_at_least, event, entry.queue_seq)
        auditor.record(action="waitlist.move", subject_type="waitlist_entry", subject_id=entry.id, event_id=event_id,
                       before=before, after={"position": position})
        on_commit(lambda: request_promotion(event_id))
    entry.position = position
    return entry


def _seq_between(others, position):
    """A queue number that puts an entry at `position` among `others` (in queue order):
    a number, so there is always room between two neighbours."""
    if not others:
        return Decimal(1)
    if position == 1:
        return others[0].queue_seq - 1
    if position > len(others):
        return others[-1].queue_seq + 1
    return (others[position - 2].queue_seq + others[position - 1].queue_seq) / 2


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


def set_waitlist_paused(event, *, paused):
    """Pause or resume a locked event's queue inside the caller's transaction. While paused,
    free seats are held for the queue and nobody is promoted; resuming promotes at once."""
    if paused == event.waitlist_paused:
        return
    event.waitlist_paused = paused
    gate.tolerating_redis_down(gate.set_paused, event, paused)
    if not paused:
        event_id = event.id
        on_commit(lambda: request_promotion(event_id))
