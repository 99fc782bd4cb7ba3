"""Giving back part of a booking: the booking keeps the rest at a recomputed total, the freed
seats go to the waitlist first, one notice per change, analytics count the seats."""
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from evently.audit.models import AuditEntry
from evently.bookings import services as bookings
from evently.bookings.models import Booking
from evently.events.models import Event
from evently.extensions import db
from evently.notifications.models import Notification
from evently.seats import gate
from tests import factories
from tests.waiting import wait_until


def give_back(client, headers, booking_id, quantity):
    return client.post(f"/api/bookings/{booking_id}/cancel", json={"quantity": quantity}, headers=headers)


def event_row(event_id):
    db.session.expire_all()
    return db.session.get(Event, event_id)


def test_giving_back_part_keeps_the_rest_at_a_recomputed_total(client, app_ctx, user, user_headers):
    event = factories.make_event(capacity=10, price="12.50")
    booking = bookings.book_seats(user=user, event_id=event.id, quantity=5).booking

    response = give_back(client, user_headers, booking.id, 2)

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["message"] == "Gave back 2 tickets; the booking keeps 3."
    data = body["data"]
    assert (data["status"], data["quantity"], data["cancelledQuantity"], data["totalAmount"]) == (
        "confirmed", 3, 2, 37.5)
    assert data["event"]["title"] == event.title
    assert event_row(event.id).booked_seats == 3
    assert int(gate.state(event)["avail"]) == 7
    notice = db.session.scalar(select(Notification).where(Notification.kind == "booking_cancelled"))
    assert (notice.payload["seatsGivenBack"], notice.payload["seatsKept"]) == (2, 3)


def test_giving_back_all_of_it_is_a_cancellation(client, app_ctx, user, user_headers):
    event = factories.make_event(capacity=10)
    booking = bookings.book_seats(user=user, event_id=event.id, quantity=4).booking
    assert give_back(client, user_headers, booking.id, 1).status_code == 200

    response = give_back(client, user_headers, booking.id, 3)

    data = response.get_json()["data"]
    assert (response.get_json()["message"], data["status"], data["quantity"], data["cancelledQuantity"]) == (
        "Booking cancelled.", "cancelled", 3, 4)
    assert event_row(event.id).booked_seats == 0 and int(gate.state(event)["avail"]) == 10
    assert db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.kind == "booking_cancelled")) == 2  # one per change
    again = give_back(client, user_headers, booking.id, 1)
    assert (again.status_code, again.get_json()["error"]["code"]) == (409, "ALREADY_CANCELLED")


def test_more_than_the_booking_holds_is_400_and_changes_nothing(client, app_ctx, user, user_headers):
    event = factories.make_event(capacity=10)
    booking = bookings.book_seats(user=user, event_id=event.id, quantity=2).booking

    response = give_back(client, user_headers, booking.id, 3)

    assert response.status_code == 400
    assert response.get_json()["error"]["details"] == {"quantity": ["This booking holds 2 seats."]}
    assert db.session.get(Booking, booking.id).quantity == 2 and event_row(event.id).booked_seats == 2
    for body in ({}, {"quantity": 0}, {"quantity": "1"}, {"quantity": 1, "x": 1}):
        assert client.post(f"/api/bookings/{booking.id}/cancel", json=body, headers=user_headers).status_code == 400


def test_seats_of_a_started_event_cannot_be_given_back(client, app_ctx, user, user_headers):
    event = factories.make_event(capacity=10)
    booking = bookings.book_seats(user=user, event_id=event.id, quantity=3).booking
    row = event_row(event.id)
    row.starts_at, row.ends_at = row.starts_at - timedelta(days=30), row.ends_at - timedelta(days=30)
    db.session.commit()

    response = give_back(client, user_headers, booking.id, 1)

    assert (response.status_code, response.get_json()["error"]["code"]) == (409, "EVENT_STARTED")
    assert db.session.get(Booking, booking.id).quantity == 3 and event_row(event.id).booked_seats == 3


def test_only_the_owner_or_an_admin_gives_seats_back_and_an_admin_is_audited(client, app_ctx, user, admin,
                                                                              admin_headers):
    event = factories.make_event(capacity=10)
    booking = bookings.book_seats(user=user, event_id=event.id, quantity=3).booking
    stranger = factories.auth_headers(factories.make_user())

    assert give_back(client, stranger, booking.id, 1).status_code == 404
    assert give_back(client, admin_headers, booking.id, 1).status_code == 200

    entry = db.session.scalar(select(AuditEntry))
    assert (entry.action, entry.actor_id, entry.subject_id) == ("booking.cancel", admin.id, booking.id)
    assert (entry.before["quantity"], entry.after["quantity"]) == (3, 2)


@pytest.mark.worker
def test_freed_seats_go_to_the_waitlist_first(client, app_ctx, user, user_headers, celery_worker):
    event = factories.make_event(capacity=4)
    booking = bookings.book_seats(user=user, event_id=event.id, quantity=4).booking
    waiter = factories.make_user()
    bookings.book_seats(user=waiter, event_id=event.id, quantity=2)

    give_back(client, user_headers, booking.id, 3)

    served = wait_until(lambda: db.session.scalar(select(Booking).where(Booking.user_id == waiter.id)),
                        message="the waiter promoted")
    assert (served.quantity, served.source) == (2, "waitlist")
    wait_until(lambda: int(gate.state(event)["avail"]) == 1, message="the last freed seat back on sale")
    assert event_row(event.id).booked_seats == 3


@pytest.mark.race
def test_racing_partial_cancellations_free_each_seat_once(app, app_ctx, user):
    event = factories.make_event(capacity=10)
    booking_id = bookings.book_seats(user=user, event_id=event.id, quantity=5).booking.id
    user_id = user.id
    barrier, answers = threading.Barrier(8), []

    def give_back_one():
        with app.app_context():
            client = app.test_client()
            headers = factories.auth_headers(db.session.get(type(user), user_id))
            barrier.wait()
            answers.append(give_back(client, headers, booking_id, 1).status_code)
            db.session.remove()

    threads = [threading.Thread(target=give_back_one) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert sorted(answers) == [200] * 5 + [409] * 3
    booking = db.session.get(Booking, booking_id)
    db.session.refresh(booking)
    assert (booking.status, booking.cancelled_quantity) == ("cancelled", 5)
    assert event_row(event.id).booked_seats == 0
    assert int(gate.state(event)["avail"]) == 10
    assert db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.kind == "booking_cancelled")) == 5


def test_analytics_count_the_seats_given_back(client, app_ctx, user, user_headers, admin_headers):
    event = factories.make_event(capacity=10)
    booking = bookings.book_seats(user=user, event_id=event.id, quantity=5).booking
    give_back(client, user_headers, booking.id, 2)

    overview = client.get("/api/analytics/overview", headers=admin_headers).get_json()["data"]

    assert overview["bookings"]["cancelledTickets"] == 2
    assert overview["bookings"]["ticketsSold"] == 3
