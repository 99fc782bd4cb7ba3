"""The waitlist: join, see your place, leave; the admin's view of a queue."""
from dataclasses import dataclass

from sqlalchemy import func, select

from evently.errors import NotFound
from evently.events.models import Event
from evently.extensions import db
from evently.seats import admission, release

from .models import QUEUE_ORDER, WaitlistEntry, live_position, queue_rank


def join_waitlist(*, user, event_id, quantity, allow_partial=True):
    """Queue for `quantity` seats. Raises SeatsAvailable (just book them),
    AlreadyWaitlisted, NotFound, EventNotBookable, EventStarted, ValidationError."""
    admitted = admission.admit(user_id=user.id, event_id=event_id, quantity=quantity, allow_partial=allow_partial,
                               join_waitlist=True, mode="waitlist")
    return admitted.waitlist_entry


def _placed(rows):
    entries = []
    for entry, position in rows:
        entry.position = position
        entries.append(entry)
    return entries


def my_entries(*, user):
    """The user's active entries, each with its live position."""
    return _placed(db.session.execute(
        select(WaitlistEntry, live_position())
        .where(WaitlistEntry.user_id == user.id, WaitlistEntry.status == "waiting")
        .order_by(WaitlistEntry.id)
    ).all())


def leave_waitlist(*, user, event_id):
    """Leave an event's waitlist; everyone behind moves up. Raises NotFound."""
    return release.leave_waitlist(user_id=user.id, event_id=event_id)


@dataclass
class Queue:
    entries: list
    total: int


def event_queue(*, event_id, page, per_page):
    """The whole queue of an event, head first (admin). Raises NotFound."""
    if db.session.get(Event, event_id) is None:
        raise NotFound("Event not found.")
    waiting = (WaitlistEntry.event_id == event_id, WaitlistEntry.status == "waiting")
    total = db.session.scalar(select(func.count()).select_from(WaitlistEntry).where(*waiting))
    # The window is computed before LIMIT/OFFSET, so the rank is the absolute place.
    rows = db.session.execute(
        select(WaitlistEntry, queue_rank()).where(*waiting)
        .order_by(*QUEUE_ORDER).limit(per_page).offset((page - 1) * per_page)
    ).all()
    return Queue(entries=_placed(rows), total=total)
