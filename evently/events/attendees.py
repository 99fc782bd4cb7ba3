"""Who is coming: an event's bookings with their holders' names and emails (organisers' reads)."""
from sqlalchemy import func, select

from evently.auth.models import User
from evently.bookings.models import Booking
from evently.common.fields import utc_timestamp
from evently.errors import NotFound
from evently.extensions import db

from .models import Event

HEADER = ("bookingReference", "name", "email", "quantity", "status", "source", "bookedAt")
_COLUMNS = (Booking.reference.label("booking_reference"), User.name, User.email, Booking.quantity, Booking.status,
            Booking.source, Booking.created_at.label("booked_at"))


def _query(event_id, status):
    query = select(*_COLUMNS).join(User, User.id == Booking.user_id).where(Booking.event_id == event_id)
    return query.where(Booking.status == status) if status else query


def _require_event(event_id):
    if db.session.scalar(select(Event.id).where(Event.id == event_id)) is None:
        raise NotFound("Event not found.")


def list_attendees(*, event_id, page, per_page, status=None):
    """One page of the event's bookings, in booking order. Raises NotFound."""
    _require_event(event_id)
    query = _query(event_id, status)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.session.execute(query.order_by(Booking.id).limit(per_page).offset((page - 1) * per_page)).all()
    return rows, total


def attendee_rows(*, event_id, status=None):
    """Every booking of the event as CSV rows (an iterator), read from a server-side cursor a
    batch at a time (yield_per), so an export's memory does not grow with the event.
    Raises NotFound at once, before any row is read."""
    _require_event(event_id)
    return _stream(_query(event_id, status).order_by(Booking.id))


def _stream(query):
    # A generator: the query runs on the first row asked for, inside the streamed response's
    # context; the request's own session (and the cursor with it) is gone by then.
    for row in db.session.execute(query.execution_options(yield_per=2000)):
        yield (row.booking_reference, row.name, row.email, row.quantity, row.status, row.source,
               utc_timestamp(row.booked_at))
