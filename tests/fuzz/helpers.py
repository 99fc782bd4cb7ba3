"""Shared by the fuzz tests: the error-envelope assertion, row counts, and a seeded world."""
from dataclasses import dataclass

from sqlalchemy import func, select

from evently.auth.models import User
from evently.bookings import services as bookings
from evently.bookings.models import Booking
from evently.events.models import Event
from evently.extensions import db
from evently.tickets.models import Ticket
from evently.waitlist.models import WaitlistEntry
from tests import factories

USER_SESSION, ADMIN_SESSION, STAFF_SESSION = "1" * 32, "2" * 32, "3" * 32
COUNTED = {"users": User, "events": Event, "bookings": Booking, "waitlist": WaitlistEntry}


def row_counts():
    """Rows per table, read on a fresh session so nothing cached hides a write."""
    db.session.remove()
    counts = {name: db.session.scalar(select(func.count()).select_from(model)) for name, model in COUNTED.items()}
    db.session.remove()
    return counts


def assert_envelope(response, status, code=None):
    """The one JSON error envelope, with `status` and (if given) `code`; never HTML or a trace."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:500])
    assert response.mimetype == "application/json", response.mimetype
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and "<html" not in text.lower()
    body = response.get_json()
    assert set(body) == {"message", "error"}, body
    assert isinstance(body["message"], str) and body["message"]
    assert set(body["error"]) == {"code", "details"}, body
    assert isinstance(body["error"]["details"], dict), body
    if code is not None:
        assert body["error"]["code"] == code, body
    return body


@dataclass
class World:
    user_headers: dict
    admin_headers: dict
    staff_headers: dict
    event_id: int          # published, seats left, one booking and nobody waiting
    sold_out_event_id: int  # published, full, the user waiting
    full_event_id: int      # published, full, nobody waiting
    draft_event_id: int
    booking_id: int
    ticket_ids: list  # the booking's


def seed_world():
    """A small but real state: rows the fuzzers' ids can hit, made through the services."""
    admin = factories.make_user(role="admin", email="admin@example.com")
    staff = factories.make_user(role="staff", email="staff@example.com")
    user = factories.make_user()
    other = factories.make_user()
    event = factories.make_event(capacity=50)
    sold_out = factories.make_event(capacity=2)
    full = factories.make_event(capacity=1)
    draft = factories.make_event(status="draft")
    booking = bookings.book_seats(user=user, event_id=event.id, quantity=2).booking
    bookings.book_seats(user=other, event_id=sold_out.id, quantity=2)
    bookings.book_seats(user=user, event_id=sold_out.id, quantity=1)  # joins the waitlist
    bookings.book_seats(user=other, event_id=full.id, quantity=1, join_waitlist=False)
    # Fixed session ids: a reseeded world (the stateful tests wipe every table) keeps the tokens valid.
    world = World(user_headers=factories.auth_headers(user, family_id=USER_SESSION),
                  admin_headers=factories.auth_headers(admin, family_id=ADMIN_SESSION),
                  staff_headers=factories.auth_headers(staff, family_id=STAFF_SESSION),
                  event_id=event.id, sold_out_event_id=sold_out.id, full_event_id=full.id, draft_event_id=draft.id,
                  booking_id=booking.id,
                  ticket_ids=list(db.session.scalars(select(Ticket.id).where(Ticket.booking_id == booking.id))))
    db.session.remove()
    return world
