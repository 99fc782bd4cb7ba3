"""Booking and cancelling seats.

A booking request goes through the Redis gate (one Lua call decides how many
seats this request gets and whether the rest waits), then one PostgreSQL
transaction records the booking and/or waitlist entry and guards
`booked_seats <= capacity` with a conditional UPDATE, so even a wrong or wiped
Redis can never oversell.
"""
import logging
import time
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import bindparam, exists, func, select, update
from sqlalchemy.exc import IntegrityError

from evently.common import faults
from evently.common.models import utcnow
from evently.errors import (
    AlreadyCancelled,
    AlreadyWaitlisted,
    EventNotBookable,
    EventStarted,
    NotFound,
    SeatsAvailable,
    SoldOut,
    Unavailable,
    ValidationError,
)
from evently.events.models import Event
from evently.extensions import db, redis_client
from evently.notifications import outbox
from evently.ops.metrics import BOOKINGS, GUARD_REJECTIONS, SEATS_TAKEN
from evently.seats import gate, holds
from evently.seats.models import SeatHold
from evently.waitlist import promotion
from evently.waitlist.models import WaitlistEntry, live_position

from . import writer
from .models import Booking

log = logging.getLogger(__name__)


class GuardRejected(Exception):
    """Redis admitted seats that PostgreSQL's guard refused: the gate was wrong."""


class HoldExpired(Exception):
    """The reaper returned this request's hold before it could commit."""


class AlreadyCommitted(Exception):
    """This hold id was booked by an earlier attempt of the same request."""


class ReferenceTaken(Unavailable):
    """The random booking reference drawn for this write already exists: at a million
    bookings, about one write in a million. The gated path writes again under the
    same hold (the gate replays its decision); anywhere else it is a 503 to retry."""

    def __init__(self):
        super().__init__("The booking could not be recorded; please retry.")


@dataclass
class BookingResult:
    booking: Booking | None
    waitlist_entry: WaitlistEntry | None
    requested: int

    @property
    def message(self):
        return booking_message(self.requested, self.booking, self.waitlist_entry)


def tickets(count):
    return f"{count} ticket{'s' if count != 1 else ''}"


def booking_message(requested, booking, entry):
    booked = booking.quantity if booking else 0
    if booked and entry:
        return f"Booked {tickets(booked)}. Remaining {tickets(entry.quantity_remaining)} added to waitlist."
    if booked and booked < requested:
        return f"Booked {tickets(booked)}. The other {tickets(requested - booked)} were not available."
    if booked:
        return f"Booked {tickets(booked)}."
    return f"No tickets available. {tickets(entry.quantity_remaining)} added to waitlist."


# What a booking decision reads of the event, as plain columns from one prebuilt Core
# statement run on the session's connection (the same transaction): loading an ORM Event
# here was a seventh of a booking's CPU, and ORM-annotated columns through Session.execute
# still cost ORM compile and result bookkeeping (~half of this read's CPU).
_EVENTS = Event.__table__.c
_BOOKABLE_COLUMNS = select(_EVENTS.id, _EVENTS.title, _EVENTS.status, _EVENTS.starts_at, _EVENTS.max_per_booking,
                           _EVENTS.price, _EVENTS.currency).where(_EVENTS.id == bindparam("event_id"))


def bookable_event(event_id, *, quantity):
    """The event's booking columns if it can be booked now. Raises NotFound,
    EventNotBookable, EventStarted, ValidationError."""
    event = db.session.connection().execute(_BOOKABLE_COLUMNS, {"event_id": event_id}).first()
    if event is None or event.status == "draft":
        raise NotFound("Event not found.")
    if event.status != "published":
        raise EventNotBookable("This event is cancelled.")
    if event.starts_at <= utcnow():
        raise EventStarted()
    if quantity > event.max_per_booking:
        raise ValidationError(details={"quantity": [f"At most {event.max_per_booking} tickets per booking."]})
    return event


def book_seats(*, user, event_id, quantity, allow_partial=True, join_waitlist=True, hold_id=None):
    """Book up to `quantity` seats; the rest joins the waitlist if wanted.

    `hold_id` makes the request idempotent: a repeat with the same id returns
    the first outcome. Raises NotFound, EventNotBookable, EventStarted,
    ValidationError, SoldOut, AlreadyWaitlisted, Unavailable.
    """
    return admit(user=user, event_id=event_id, quantity=quantity, allow_partial=allow_partial,
                 join_waitlist=join_waitlist, hold_id=hold_id, mode="direct")


def admit(*, user, event_id, quantity, allow_partial, join_waitlist, hold_id=None, mode="direct"):
    """The gate decides (mode direct: book what is free; mode waitlist: only
    queue, SeatsAvailable if the seats could simply be booked), then one
    transaction records the outcome."""
    event = bookable_event(event_id, quantity=quantity)  # a plain row: nothing below can expire it
    buyer = Buyer(user.id)  # a plain value: `user` expires on any rollback below
    # The read transaction stays open across the Redis call and becomes the write transaction.
    # Having only read (READ COMMITTED), it holds no row locks, so it blocks nobody; ending it
    # here would cost a ROLLBACK, then a pool pre-ping and a BEGIN: three round trips a booking.
    if mode == "direct" and current_app.config["BOOKING_STRATEGY"] == "pglock":
        return _book_with_row_lock(user=buyer, event=event, quantity=quantity,
                                   allow_partial=allow_partial, join_waitlist=join_waitlist)
    hold_id = hold_id or holds.new_hold_id()
    for attempt in range(2):
        decision = _take(event, hold_id, quantity, allow_partial, join_waitlist, mode)
        faults.pause("BOOKING_TEST_PAUSE_SECONDS")
        try:
            result = _record(user=buyer, event=event, hold_id=hold_id, requested=quantity, taken=decision.taken,
                             waitlisted=decision.waitlisted, position=decision.position, allow_partial=allow_partial)
        except GuardRejected:
            GUARD_REJECTIONS.inc()
            holds.release_hold(event_id=event_id, hold_id=hold_id)
            _correct_gate(event_id)
            hold_id = holds.new_hold_id()
            continue
        except AlreadyWaitlisted:
            holds.release_hold(event_id=event_id, hold_id=hold_id)
            raise
        except ReferenceTaken:
            if attempt == 0:
                continue  # same hold id: the gate replays this decision, the write draws a new reference
            holds.release_hold(event_id=event_id, hold_id=hold_id)
            raise
        except HoldExpired:
            raise Unavailable("The request took too long and its seats were released; please retry.") from None
        except AlreadyCommitted:
            _settle_repeat(event_id, hold_id, decision)
            return existing_result(user=user, hold_id=hold_id, requested=quantity)
        except Exception:
            holds.release_hold(event_id=event_id, hold_id=hold_id)
            raise
        holds.finish_hold(event_id=event_id, hold_id=hold_id)
        BOOKINGS.labels("booked" if result.booking else "waitlisted").inc()
        return result
    raise Unavailable("Seat availability is being corrected; please retry.")


@dataclass(frozen=True)
class Buyer:
    """The acting user's id, all the recording transaction needs of them."""
    id: int


def _take(event, hold_id, quantity, allow_partial, join_waitlist, mode):
    if faults.enabled("UNSAFE_NO_GUARDS"):
        decision = _unsafe_take(event.id, quantity, allow_partial)
    else:
        decision = gate.take(event_id=event.id, hold_id=hold_id, quantity=quantity, mode=mode,
                             allow_partial=allow_partial, join_waitlist=join_waitlist)
    if decision.status == "SEATS_AVAILABLE":
        raise SeatsAvailable(details={"availableSeats": decision.available})
    if decision.taken == 0 and not decision.waitlisted:
        BOOKINGS.labels("sold_out").inc()
        raise SoldOut()
    return decision


def _record(*, user, event, hold_id, requested, taken, waitlisted, allow_partial, position=None):
    """One transaction: claim the hold, write the booking (with its outbox row) and/or the
    waitlist entry, guard capacity (one statement, evently/bookings/writer.py), commit.
    `position` is the entry's place as the gate queued it (None: count it in PostgreSQL)."""
    unguarded = faults.enabled("UNSAFE_NO_GUARDS")
    try:
        written = writer.write_outcome(user_id=user.id, event=event, hold_id=hold_id, requested=requested,
                                       taken=taken, waitlisted=waitlisted, allow_partial=allow_partial,
                                       position=position, guard=not unguarded)
        if not written.guarded:
            raise GuardRejected()
        if unguarded and taken:
            _unguarded_add(event.id, taken)
        if written.notification_id is not None:
            outbox.deliver_after_commit(written.notification_id)
        db.session.commit()
    except IntegrityError as error:
        db.session.rollback()
        return _resolve_conflict(error, user=user, event=event, hold_id=hold_id, requested=requested)
    except Exception:
        db.session.rollback()
        raise
    SEATS_TAKEN.labels("direct").inc(taken)
    return BookingResult(booking=written.booking, waitlist_entry=written.entry, requested=requested)


def _unguarded_add(event_id, taken):
    """Negative control for the race tests (TESTING + UNSAFE_NO_GUARDS): instead of the
    guard, a read-modify-write of booked_seats that loses updates under concurrency."""
    current = db.session.scalar(select(Event.booked_seats).where(Event.id == event_id))
    time.sleep(0.002)
    db.session.execute(update(Event).where(Event.id == event_id).values(booked_seats=current + taken))


def _resolve_conflict(error, *, user, event, hold_id, requested):
    constraint = getattr(getattr(error.orig, "diag", None), "constraint_name", None)
    if constraint == "uq_waitlist_entries_one_active":
        raise AlreadyWaitlisted() from None
    if constraint == "ck_events_booked_within_capacity":
        raise GuardRejected() from None
    if constraint == "uq_bookings_reference":
        raise ReferenceTaken() from None
    if constraint in writer.HOLD_RECORDED_CONSTRAINTS:
        outcome = db.session.scalar(select(SeatHold.outcome).where(SeatHold.hold_id == hold_id))
        db.session.rollback()
        if outcome == "committed":
            raise AlreadyCommitted() from None
        raise HoldExpired() from None
    raise error


def _settle_repeat(event_id, hold_id, decision):
    """A retried request whose first attempt committed. If the gate still had
    the first hold, it replayed it and the hold is simply done; if the hold was
    already finished, this attempt took seats afresh and they go straight back."""
    if decision.status == "OK":
        gate.release(event_id=event_id, hold_id=hold_id)
    else:
        holds.finish_hold(event_id=event_id, hold_id=hold_id)


def existing_result(*, user, hold_id, requested):
    """The booking and entry an already-committed hold produced."""
    booking = db.session.scalar(select(Booking).where(Booking.hold_id == hold_id, Booking.user_id == user.id))
    entry = db.session.scalar(select(WaitlistEntry).where(WaitlistEntry.gate_key == hold_id,
                                                          WaitlistEntry.user_id == user.id))
    if entry is not None:
        entry.position = waitlist_position(entry)
    return BookingResult(booking=booking, waitlist_entry=entry, requested=requested)


def _correct_gate(event_id):
    from evently.seats import reconcile

    try:
        reconcile.reconcile_event(event_id=event_id)
    except Exception:  # noqa: BLE001 - the periodic reconcile will retry; the client gets a retryable answer
        db.session.rollback()
        log.exception("could not reconcile event %s after a guard rejection", event_id)


def _unsafe_take(event_id, quantity, allow_partial):
    """Negative control only (TESTING + UNSAFE_NO_GUARDS): read, think, write — not atomic."""
    key = gate.gate_key(event_id)
    if not redis_client.hexists(key, "avail"):
        gate.rebuild(event_id=event_id)
    avail = int(redis_client.hget(key, "avail"))
    taken = min(quantity, max(avail, 0))
    if taken < quantity and not allow_partial:
        taken = 0
    time.sleep(0.002)
    redis_client.hset(key, "avail", avail - taken)
    return gate.Decision("OK", taken, taken < quantity, avail - taken)


def waitlist_position(entry):
    """1-based place in the event's queue (FIFO by join order), or None once not waiting."""
    if entry.status != "waiting":
        return None
    return db.session.scalar(select(live_position()).where(WaitlistEntry.id == entry.id))


def _book_with_row_lock(*, user, event, quantity, allow_partial, join_waitlist):
    """Baseline strategy for the benchmark (BOOKING_STRATEGY=pglock): no Redis,
    the event row is locked for the whole decision; the writes are the same as
    the gated strategy's (the guard then always holds)."""
    capacity, booked = db.session.execute(
        select(Event.capacity, Event.booked_seats).where(Event.id == event.id).with_for_update()
    ).one()
    # Whether anyone waits, not how many: EXISTS stops at the first entry, a count visits them all.
    anyone_waiting = db.session.scalar(select(exists().where(
        WaitlistEntry.event_id == event.id, WaitlistEntry.status == "waiting")))
    taken = 0 if anyone_waiting else min(quantity, capacity - booked)
    if taken < quantity and not allow_partial:
        taken = 0
    waitlisted = join_waitlist and taken < quantity
    if not taken and not waitlisted:
        db.session.rollback()
        raise SoldOut()
    return _record(user=user, event=event, hold_id=holds.new_hold_id(), requested=quantity, taken=taken,
                   waitlisted=waitlisted, allow_partial=allow_partial)


def get_booking(*, actor, booking_id):
    """Raises NotFound for a missing booking or another user's (no existence leak)."""
    booking = db.session.get(Booking, booking_id)
    if booking is None or (booking.user_id != actor.id and not actor.is_admin):
        raise NotFound("Booking not found.")
    return booking


def list_bookings(*, actor, page, per_page, status=None, event_id=None, all_users=False):
    """The actor's bookings, newest first (admins may list everyone's with all_users)."""
    query = select(Booking)
    if not (all_users and actor.is_admin):
        query = query.where(Booking.user_id == actor.id)
    if status:
        query = query.where(Booking.status == status)
    if event_id:
        query = query.where(Booking.event_id == event_id)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    items = db.session.scalars(
        query.order_by(Booking.created_at.desc(), Booking.id.desc()).limit(per_page).offset((page - 1) * per_page)
    ).all()
    return items, total


def cancel_booking(*, actor, booking_id):
    """Cancel a booking; its seats go to the waitlist first, else back on sale.
    Raises NotFound, AlreadyCancelled, EventStarted."""
    found = get_booking(actor=actor, booking_id=booking_id)
    event_id = found.event_id
    db.session.rollback()
    # Lock order everywhere: event row, then booking or entry rows.
    event = db.session.execute(select(Event).where(Event.id == event_id).with_for_update().execution_options(populate_existing=True)).scalar_one()
    booking = db.session.execute(select(Booking).where(Booking.id == booking_id).with_for_update().execution_options(populate_existing=True)).scalar_one()
    if booking.status == "cancelled":
        db.session.rollback()
        raise AlreadyCancelled()
    if event.starts_at <= utcnow():
        db.session.rollback()
        raise EventStarted("Bookings cannot be cancelled after the event has started.")
    booking.status = "cancelled"
    booking.cancelled_at = utcnow()
    event.booked_seats -= booking.quantity
    outbox.booking_cancelled(booking, event)
    db.session.flush()
    # Mirror the freed seats while the row lock is held, so reconcile cannot interleave.
    gate.apply_seats_freed(event_id=event_id, seats=booking.quantity, op_id=f"cancel:{booking.id}")
    db.session.commit()
    promotion.request_promotion(event_id, seats_freed_at=booking.cancelled_at)
    return booking
