"""Shared steps of the ticket tests: book through the seat engine, read tickets back, scan."""
from sqlalchemy import select

from evently.bookings import services as bookings
from evently.extensions import db
from evently.tickets.models import Ticket
from tests import factories


def book(user, event, quantity):
    return bookings.book_seats(user=user, event_id=event.id, quantity=quantity).booking


def tickets_of(booking_id):
    db.session.expire_all()
    return db.session.scalars(select(Ticket).where(Ticket.booking_id == booking_id).order_by(Ticket.seat_index)).all()


def codes_of(client, user, booking_id):
    response = client.get(f"/api/bookings/{booking_id}/tickets", headers=factories.auth_headers(user))
    assert response.status_code == 200, response.get_json()
    return [ticket["code"] for ticket in response.get_json()["data"]]


def scan(client, headers, code, request_id=None):
    extra = {"X-Request-ID": request_id} if request_id else {}
    return client.post("/api/checkins", json={"code": code}, headers={**headers, **extra})
