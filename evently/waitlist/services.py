"""The waitlist: join, see your place, leave; the admin's view of a queue."""
from dataclasses import dataclass

from sqlalchemy import func, select

from evently.bookings import services as bookings
from evently.errors import NotFound
from evently.events.models import Event
from evently.extensions import db
from evently.seats import gate

from . import promotion
from .models import WaitlistEntry, live_position


def join_waitlist(*, user, event_id, quantity, allow_partial=True):
    """Queue for `quantity` seats. Raises SeatsAvailable (just book them),
    AlreadyWaitlisted, NotFound, EventNotBookable, EventStarted, ValidationError."""
    result = bookings.admit(user=user, event_id=event_id, quantity=quantity, allow_partial=allow_partial,
                            join_waitlist=True, mode="waitlist")
    return result.waitlist_entry


def _with_positions(rows):
    entries = []
    for entry, position in rows:
        entry.position = position
        entries.append(entry)
    return entries


def my_entries(*, user):
    """The user's active entries, each with its live position."""
    rows = db.session.execute(
        select(WaitlistEntry, live_position())
        .where(WaitlistEntry.user_id == user.id, WaitlistEntry.status == "waiting")
        .order_by(WaitlistEntry.id)
    ).all()
    return _with_positions(rows)


def leave_waitlist(*, user, event_id):
    """Leave an event's waitlist; everyone behind moves up. Raises NotFound."""
    # Lock order everywhere: the event row, then entry rows.
    db.session.execute(select(Event.id).where(Event.id == event_id).with_for_update())
    entry = db.session.execute(
        select(WaitlistEntry)
        .where(WaitlistEntry.event_id == event_id, WaitlistEntry.user_id == user.id,
               WaitlistEntry.status == "waiting")
        .with_for_update().execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if entry is None:
        db.session.rollback()
        raise NotFound("You are not on this event's waitlist.")
    entry.status = "left"
    entry.position = None
    db.session.commit()
    gate.unwait_quietly(event_id=event_id, entry_key=entry.gate_key)
    # With one waiter fewer, free seats may now fit someone behind (or go back on sale).
    promotion.request_promotion(event_id)
    return entry


@dataclass
class Queue:
    entries: list
    total: int


def event_queue(*, event_id, page, per_page):
    """The whole queue of an event, head first (admin). Raises NotFound."""
    if db.session.get(Event, event_id) is None:
        raise NotFound("Event not found.")
    base = select(WaitlistEntry).where(WaitlistEntry.event_id == event_id, WaitlistEntry.status == "waiting")
    total = db.session.scalar(select(func.count()).select_from(base.subquery()))
    rows = db.session.execute(
        select(WaitlistEntry, func.row_number().over(order_by=WaitlistEntry.id))
        .where(WaitlistEntry.event_id == event_id, WaitlistEntry.status == "waiting")
        .order_by(WaitlistEntry.id).limit(per_page).offset((page - 1) * per_page)
    ).all()
    # The window is computed before LIMIT/OFFSET, so row_number is the absolute place.
    return Queue(entries=_with_positions(rows), total=total)
