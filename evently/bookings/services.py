"""Bookings: booking seats (decided and recorded by the seat engine), history, cancellation."""
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from evently.audit.log import Auditor
from evently.errors import NotFound
from evently.extensions import db
from evently.seats import admission, release
from evently.waitlist.models import WaitlistEntry

from .models import Booking


@dataclass
class BookingResult:
    booking: Booking | None
    waitlist_entry: WaitlistEntry | None
    requested: int

    @classmethod
    def of(cls, admitted):
        return cls(booking=admitted.booking, waitlist_entry=admitted.waitlist_entry, requested=admitted.requested)

    @property
    def message(self):
        booked = self.booking.quantity if self.booking else 0
        entry = self.waitlist_entry
        if booked and entry:
            return f"Booked {tickets(booked)}. Remaining {tickets(entry.quantity_remaining)} added to waitlist."
        if booked and booked < self.requested:
            return f"Booked {tickets(booked)}. The other {tickets(self.requested - booked)} were not available."
        if booked:
            return f"Booked {tickets(booked)}."
        return f"No tickets available. {tickets(entry.quantity_remaining)} added to waitlist."


def tickets(count):
    return f"{count} ticket{'s' if count != 1 else ''}"


def book_seats(*, user, event_id, quantity, allow_partial=True, join_waitlist=True, on_recorded=None):
    """Book up to `quantity` seats; the rest joins the waitlist if wanted. `on_recorded(result)`
    runs inside the recording transaction (see evently/seats/admission.py). Raises NotFound,
    EventNotBookable, EventStarted, ValidationError, SoldOut, AlreadyWaitlisted, Unavailable."""
    hook = None if on_recorded is None else (lambda admitted: on_recorded(BookingResult.of(admitted)))
    admitted = admission.admit(user_id=user.id, event_id=event_id, quantity=quantity, allow_partial=allow_partial,
                               join_waitlist=join_waitlist, mode="direct", on_recorded=hook)
    return BookingResult.of(admitted)


def get_booking(*, actor, booking_id):
    """Raises NotFound for a missing booking or another user's (no existence leak)."""
    booking = db.session.get(Booking, booking_id, options=[joinedload(Booking.event)])
    if booking is None or not booking.visible_to(actor):
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
        query.options(joinedload(Booking.event))
        .order_by(Booking.created_at.desc(), Booking.id.desc()).limit(per_page).offset((page - 1) * per_page)
    ).all()
    return items, total


def cancel_booking(*, actor, booking_id, quantity=None):
    """Give back `quantity` of the actor's booking's seats (any booking, for an admin, which is
    audited); all of them, or None, cancels it. Freed seats go to the waitlist first, else back
    on sale. Raises NotFound, AlreadyCancelled, EventStarted, ValidationError."""
    get_booking(actor=actor, booking_id=booking_id)
    auditor = Auditor(actor_id=actor.id) if actor.is_admin else None
    return release.cancel_seats(booking_id=booking_id, quantity=quantity, auditor=auditor)
