"""One ticket per confirmed seat, written with its booking, voided with its seat."""
from sqlalchemy import func, select, text

from evently.bookings.models import Booking
from evently.extensions import db
from evently.seats import cancellation
from evently.tickets import codes
from evently.tickets.models import Ticket
from tests import factories
from tests.tickets.helpers import book, codes_of, scan, tickets_of


def test_a_booking_of_three_has_three_tickets_with_codes(app_ctx, client, user):
    event = factories.make_event(capacity=10)

    response = client.post("/api/bookings", json={"eventId": event.id, "quantity": 3},
                           headers=factories.auth_headers(user))

    booking_id = response.get_json()["data"]["booking"]["id"]
    rows = tickets_of(booking_id)
    assert [(t.seat_index, t.status, t.event_id) for t in rows] == [(1, "valid", event.id), (2, "valid", event.id),
                                                                     (3, "valid", event.id)]
    listed = client.get(f"/api/bookings/{booking_id}/tickets", headers=factories.auth_headers(user)).get_json()
    assert listed["message"] == "Tickets."
    assert [(t["id"], t["seatIndex"], t["status"], t["checkedInAt"]) for t in listed["data"]] == [
        (row.id, row.seat_index, "valid", None) for row in rows]
    reference = db.session.get(Booking, booking_id).reference
    for ticket in listed["data"]:
        fields = codes.verified(ticket["code"])
        assert fields == codes.TicketFields(ticket_id=ticket["id"], event_id=event.id,
                                            seat_index=ticket["seatIndex"], reference=reference)
    # Derived on read and deterministic: the same ticket always shows the same code.
    assert codes_of(client, user, booking_id) == [ticket["code"] for ticket in listed["data"]]


def test_tickets_are_the_owners_or_an_admins(app_ctx, client, user, admin_headers):
    booking = book(user, factories.make_event(), 2)
    stranger = factories.make_user()

    assert client.get(f"/api/bookings/{booking.id}/tickets", headers=factories.auth_headers(stranger)).status_code == 404
    assert client.get(f"/api/bookings/{booking.id}/tickets").status_code == 401
    assert len(client.get(f"/api/bookings/{booking.id}/tickets", headers=admin_headers).get_json()["data"]) == 2
    assert client.get("/api/bookings/999999/tickets", headers=factories.auth_headers(user)).status_code == 404


def test_a_refused_write_leaves_neither_booking_nor_tickets(app_ctx, client, user):
    """The tickets are in the booking's statement: when PostgreSQL's guard refuses the seats
    (the gate believed in seats that are gone), nothing of the booking remains."""
    event = factories.make_event(capacity=4)
    book(factories.make_user(), event, 1)  # builds the gate: 3 free
    db.session.execute(text("UPDATE events SET booked_seats = capacity WHERE id = :id"), {"id": event.id})
    db.session.commit()

    response = client.post("/api/bookings", json={"eventId": event.id, "quantity": 2, "joinWaitlist": False},
                           headers=factories.auth_headers(user))

    assert response.status_code == 409, response.get_json()
    assert db.session.scalar(select(func.count()).select_from(Booking).where(Booking.user_id == user.id)) == 0
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == 1


def test_giving_back_seats_voids_the_highest_seats_not_yet_checked_in(app_ctx, client, user):
    event = factories.make_event(capacity=10)
    booking = book(user, event, 4)
    staff = factories.make_user(role="staff")
    seat_four = codes_of(client, user, booking.id)[3]
    assert scan(client, factories.auth_headers(staff), seat_four).status_code == 201
    headers = factories.auth_headers(user)

    response = client.post(f"/api/bookings/{booking.id}/cancel", json={"quantity": 2}, headers=headers)

    assert response.status_code == 200
    # Seat 4 let someone in already: seats 3 and 2 go, and the booking keeps 1 and 4.
    assert [(t.seat_index, t.status) for t in tickets_of(booking.id)] == [
        (1, "valid"), (2, "void"), (3, "void"), (4, "valid")]
    assert all(t.voided_at is not None for t in tickets_of(booking.id) if t.status == "void")

    client.post(f"/api/bookings/{booking.id}/cancel", json={"quantity": 1}, headers=headers)
    assert [(t.seat_index, t.status) for t in tickets_of(booking.id)] == [
        (1, "void"), (2, "void"), (3, "void"), (4, "valid")]

    client.delete(f"/api/bookings/{booking.id}", headers=headers)
    assert [t.status for t in tickets_of(booking.id)] == ["void"] * 4


def test_valid_tickets_always_match_the_seats_a_booking_holds(app_ctx, client, user):
    event = factories.make_event(capacity=20)
    first, second = book(user, event, 5), book(factories.make_user(), event, 3)

    client.post(f"/api/bookings/{first.id}/cancel", json={"quantity": 3}, headers=factories.auth_headers(user))

    held = dict(db.session.execute(select(Booking.id, Booking.quantity).where(Booking.status == "confirmed")).all())
    valid = dict(db.session.execute(select(Ticket.booking_id, func.count()).where(Ticket.status == "valid")
                                    .group_by(Ticket.booking_id)).all())
    assert held == valid == {first.id: 2, second.id: 3}


def test_cancelling_the_event_voids_every_ticket(app_ctx, client, admin_headers):
    event = factories.make_event(capacity=10)
    bookings = [book(factories.make_user(), event, quantity) for quantity in (1, 2, 3)]

    response = client.delete(f"/api/events/{event.id}", headers=admin_headers)
    job_id = response.get_json()["data"]["cancellationJob"]["id"]
    cancellation.run_batch(job_id=job_id, batch=2)  # two bookings in the first batch, one in the second
    cancellation.run_batch(job_id=job_id, batch=2)

    for booking in bookings:
        assert {t.status for t in tickets_of(booking.id)} == {"void"}
    assert db.session.scalar(select(func.count()).select_from(Ticket).where(Ticket.status == "valid")) == 0
