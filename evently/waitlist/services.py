"""The waitlist: join, see your place, leave; the admin's view of a queue."""
from dataclasses import dataclass

from sqlalchemy import func, select

from evently.audit.log import Auditor
from evently.auth.models import User
from evently.common.fields import utc_timestamp
from evently.common.models import utcnow
from evently.errors import NotFound
from evently.events.models import Event
from evently.extensions import db
from evently.seats import admission, promotion, release

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


QUEUE_HEADER = ("position", "name", "email", "quantity", "quantityRequested", "allowPartial", "joinedAt",
                "waitedSeconds")


def _queue_rows(event_id):
    """The event's waiting entries in queue order, each with its place and its user."""
    return (select(WaitlistEntry, queue_rank(), User.name, User.email)
            .join(User, User.id == WaitlistEntry.user_id)
            .where(WaitlistEntry.event_id == event_id, WaitlistEntry.status == "waiting")
            .order_by(*QUEUE_ORDER))


def _require_event(event_id):
    if db.session.scalar(select(Event.id).where(Event.id == event_id)) is None:
        raise NotFound("Event not found.")


def _organiser_view(entry, position, name, email, now):
    entry.position, entry.name, entry.email = position, name, email
    entry.waited_seconds = int((now - entry.created_at).total_seconds())
    return entry


def event_queue(*, event_id, page, per_page):
    """The whole queue of an event, head first, with who waits (admin). Raises NotFound."""
    _require_event(event_id)
    total = db.session.scalar(select(func.count()).select_from(WaitlistEntry).where(
        WaitlistEntry.event_id == event_id, WaitlistEntry.status == "waiting"))
    # The window is computed before LIMIT/OFFSET, so the rank is the absolute place.
    rows = db.session.execute(_queue_rows(event_id).limit(per_page).offset((page - 1) * per_page)).all()
    now = utcnow()
    return Queue(entries=[_organiser_view(*row, now) for row in rows], total=total)


def queue_rows(*, event_id):
    """The whole queue as CSV rows (an iterator, read a batch at a time). Raises NotFound at once."""
    _require_event(event_id)
    return _stream_queue(event_id)


def _stream_queue(event_id):
    # A generator: the query runs inside the streamed response's context (see events/attendees.py).
    now = utcnow()
    for entry, position, name, email in db.session.execute(_queue_rows(event_id).execution_options(yield_per=2000)):
        yield (position, name, email, entry.quantity_remaining, entry.quantity_requested, entry.allow_partial,
               utc_timestamp(entry.created_at), int((now - entry.created_at).total_seconds()))


def remove_entry(*, actor, event_id, entry_id, reason=None):
    """Take an entry off the queue (admin, audited); its user is told. Raises NotFound."""
    return release.remove_entry(event_id=event_id, entry_id=entry_id, auditor=Auditor(actor.id, reason))


def move_entry(*, actor, event_id, entry_id, position, reason=None):
    """Put an entry at `position` of the queue (admin, audited). Raises NotFound, ValidationError."""
    return release.move_entry(event_id=event_id, entry_id=entry_id, position=position,
                              auditor=Auditor(actor.id, reason))


def promote(*, actor, event_id, seats, reason=None):
    """Hand out up to `seats` free seats in queue order, paused or not (admin, audited). Raises NotFound."""
    return promotion.promote_by_hand(event_id=event_id, seats=seats, auditor=Auditor(actor.id, reason))
