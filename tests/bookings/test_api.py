"""The bookings HTTP contract, checked against the rows it leaves behind."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from evently.bookings.models import Booking
from evently.events.models import Event
from evently.extensions import db
from evently.notifications.models import Notification
from evently.seats import gate
from evently.waitlist.models import WaitlistEntry
from tests import factories


def book(client, headers, event_id, quantity, **extra):
    return client.post("/api/bookings", json={"eventId": event_id, "quantity": quantity, **extra}, headers=headers)


def booked_seats(event_id):
    db.session.expire_all()
    return db.session.get(Event, event_id).booked_seats


def fill(client, event, seats):
    """Another buyer books `seats` first."""
    assert book(client, factories.auth_headers(factories.make_user()), event.id, seats).status_code == 201


def test_partial_booking_matches_the_brief(client, app_ctx, user_headers):
    event = factories.make_event(capacity=10)
    fill(client, event, 8)
    response = book(client, user_headers, event.id, 10)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["message"] == "Booked 2 tickets. Remaining 8 tickets added to waitlist."
    assert body["data"]["booking"]["quantity"] == 2
    assert body["data"]["booking"]["bookingReference"].startswith("EVT-")
    assert len(body["data"]["booking"]["bookingReference"]) >= 10
    assert body["data"]["booking"]["totalAmount"] == 50.0
    assert body["data"]["booking"]["source"] == "direct"
    assert body["data"]["waitlistEntry"]["position"] == 1
    assert body["data"]["waitlistEntry"]["quantity"] == 8
    assert booked_seats(event.id) == 10
    entry = db.session.scalar(select(WaitlistEntry))
    assert (entry.quantity_remaining, entry.status) == (8, "waiting")
    assert db.session.scalar(select(func.count()).select_from(Notification)) == 2  # both confirmations


def test_full_booking_message_and_rows(client, app_ctx, user, user_headers):
    event = factories.make_event(capacity=10, price="12.50")
    response = book(client, user_headers, event.id, 3)
    assert response.status_code == 201
    body = response.get_json()
    assert body["message"] == "Booked 3 tickets."
    assert body["data"]["waitlistEntry"] is None
    assert body["data"]["booking"]["unitPrice"] == 12.5
    assert body["data"]["booking"]["totalAmount"] == 37.5
    booking = db.session.scalar(select(Booking))
    assert (booking.user_id, booking.quantity, booking.status, str(booking.total_amount)) == (user.id, 3, "confirmed", "37.50")
    assert booked_seats(event.id) == 3
    assert int(gate.state(event)["avail"]) == 7


def test_sold_out_without_waitlist_is_409_and_changes_nothing(client, app_ctx, user_headers):
    event = factories.make_event(capacity=2)
    assert book(client, user_headers, event.id, 2).status_code == 201
    response = book(client, factories.auth_headers(factories.make_user()), event.id, 2, joinWaitlist=False)
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "SOLD_OUT"
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 1
    assert db.session.scalar(select(func.count()).select_from(WaitlistEntry)) == 0


def test_partial_without_waitlist_books_what_is_left(client, app_ctx, user_headers):
    event = factories.make_event(capacity=5)
    fill(client, event, 2)
    response = book(client, user_headers, event.id, 5, joinWaitlist=False)
    assert response.status_code == 201
    assert response.get_json()["message"] == "Booked 3 tickets. The other 2 tickets were not available."
    assert response.get_json()["data"]["waitlistEntry"] is None


def test_all_or_nothing_waits_for_everything(client, app_ctx, user_headers):
    event = factories.make_event(capacity=5)
    fill(client, event, 2)
    response = book(client, user_headers, event.id, 5, allowPartial=False)
    assert response.status_code == 201
    body = response.get_json()
    assert body["data"]["booking"] is None
    assert body["message"] == "No tickets available. 5 tickets added to waitlist."
    assert booked_seats(event.id) == 2


def test_more_seats_than_the_event_has_is_400_and_changes_nothing(client, app_ctx, user_headers):
    """Such an entry could never be served; it used to wait forever (and, all-or-nothing, freeze sales)."""
    event = factories.make_event(capacity=5)
    for extra in ({}, {"allowPartial": False}):
        response = book(client, user_headers, event.id, 6, **extra)
        assert response.status_code == 400, response.get_json()
        assert response.get_json()["error"]["details"] == {"quantity": ["This event has 5 seats in all."]}
    joined = client.post("/api/waitlist", json={"eventId": event.id, "quantity": 6}, headers=user_headers)
    assert joined.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(WaitlistEntry)) == 0
    assert booked_seats(event.id) == 0


def test_no_queue_jumping_while_a_waiter_could_take_the_seats(client, app_ctx, user, user_headers):
    event = factories.make_event(capacity=3)
    booking = book(client, user_headers, event.id, 3).get_json()["data"]["booking"]
    waiter = factories.auth_headers(factories.make_user())
    assert book(client, waiter, event.id, 2).status_code == 201  # waits for 2, taking part if need be
    assert client.delete(f"/api/bookings/{booking['id']}", headers=user_headers).status_code == 200
    # 3 seats are free and the waiter could take them: they are the queue's (a promotion serves it).
    other = factories.auth_headers(factories.make_user())
    response = book(client, other, event.id, 1)
    assert response.status_code == 201
    body = response.get_json()
    assert body["data"]["booking"] is None
    assert body["data"]["waitlistEntry"]["position"] == 2
    assert booked_seats(event.id) == 0


def test_an_all_or_nothing_waiter_that_does_not_fit_blocks_nobody(client, app_ctx, user_headers):
    """It keeps its place, but the seats it cannot take are sold directly (they used to be
    frozen until the periodic reconcile: the next buyer got SOLD_OUT with seats free)."""
    event = factories.make_event(capacity=5)
    fill(client, event, 2)
    assert book(client, user_headers, event.id, 5, allowPartial=False).status_code == 201  # 3 free: waits for 5
    assert client.get(f"/api/events/{event.id}").get_json()["data"]["availableSeats"] == 3
    other = factories.auth_headers(factories.make_user())
    response = book(client, other, event.id, 3)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["message"] == "Booked 3 tickets."
    assert booked_seats(event.id) == 5
    assert db.session.scalar(select(WaitlistEntry.status)) == "waiting"


def test_the_issues_frozen_sales_cases_sell_directly(client, app_ctx, user_headers):
    """An empty 5-seat event and a join for 6, all or nothing; 3 of 5 booked and an
    all-or-nothing entry for 3: each froze direct sales (SOLD_OUT with seats free)."""
    empty = factories.make_event(capacity=5)
    strict = {"allowPartial": False}
    assert client.post("/api/waitlist", json={"eventId": empty.id, "quantity": 6, **strict},
                       headers=user_headers).status_code == 400
    assert client.get(f"/api/events/{empty.id}").get_json()["data"]["availableSeats"] == 5
    assert book(client, factories.auth_headers(factories.make_user()), empty.id, 5).status_code == 201

    event = factories.make_event(capacity=5)
    fill(client, event, 3)
    joined = client.post("/api/waitlist", json={"eventId": event.id, "quantity": 3, **strict}, headers=user_headers)
    assert joined.status_code == 201, joined.get_json()
    assert client.get(f"/api/events/{event.id}").get_json()["data"]["availableSeats"] == 2
    response = book(client, factories.auth_headers(factories.make_user()), event.id, 2)
    assert response.get_json()["message"] == "Booked 2 tickets."
    assert booked_seats(event.id) == 5


def test_an_all_or_nothing_waiter_that_fits_is_served_before_direct_sales(client, app_ctx, user_headers):
    event = factories.make_event(capacity=5)
    holding = book(client, user_headers, event.id, 5).get_json()["data"]["booking"]
    strict = factories.auth_headers(factories.make_user())
    assert book(client, strict, event.id, 3, allowPartial=False).status_code == 201
    assert client.delete(f"/api/bookings/{holding['id']}", headers=user_headers).status_code == 200
    # 5 free and the strict waiter wants 3: the queue claims them until a promotion serves it.
    assert client.get(f"/api/events/{event.id}").get_json()["data"]["availableSeats"] == 0
    other = factories.auth_headers(factories.make_user())
    assert book(client, other, event.id, 2).get_json()["data"]["booking"] is None
    state = gate.state(event)
    assert (state["avail"], state["nwait"], state["amin"]) == ("5", "2", "3")


def test_second_waitlist_entry_for_same_event_is_409(client, app_ctx, user_headers):
    event = factories.make_event(capacity=3)
    fill(client, event, 3)
    book(client, user_headers, event.id, 3)
    response = book(client, user_headers, event.id, 1)
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "ALREADY_WAITLISTED"
    assert db.session.scalar(select(func.count()).select_from(WaitlistEntry)) == 1
    state = gate.state(event)
    assert state["nwait"] == "1" and not [k for k in state if k.startswith("h:")]


@pytest.mark.parametrize("payload, field", [
    ({"quantity": 1}, "eventId"),
    ({"eventId": 1}, "quantity"),
    ({"eventId": 1, "quantity": 0}, "quantity"),
    ({"eventId": 1, "quantity": "2"}, "quantity"),
    ({"eventId": 1, "quantity": 1, "role": "admin"}, "role"),
    ({"eventId": 1, "quantity": 1, "allowPartial": "maybe"}, "allowPartial"),
])
def test_bad_booking_body_is_400(client, app_ctx, user_headers, payload, field):
    response = client.post("/api/bookings", json=payload, headers=user_headers)
    assert response.status_code == 400
    assert field in response.get_json()["error"]["details"]
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 0


def test_quantity_over_event_maximum_is_400(client, app_ctx, user_headers):
    event = factories.make_event(capacity=100, max_per_booking=4)
    response = book(client, user_headers, event.id, 5)
    assert response.status_code == 400
    assert "quantity" in response.get_json()["error"]["details"]
    assert booked_seats(event.id) == 0


def test_booking_requires_a_token(client, app_ctx):
    event = factories.make_event()
    assert book(client, {}, event.id, 1).status_code == 401


@pytest.mark.parametrize("status, code, expected", [("draft", 404, "NOT_FOUND"), ("cancelled", 409, "EVENT_NOT_BOOKABLE")])
def test_unpublished_events_cannot_be_booked(client, app_ctx, user_headers, status, code, expected):
    event = factories.make_event(status=status)
    response = book(client, user_headers, event.id, 1)
    assert (response.status_code, response.get_json()["error"]["code"]) == (code, expected)


def test_started_event_cannot_be_booked(client, app_ctx, user_headers):
    event = factories.make_event(starts_in=timedelta(minutes=-5))
    response = book(client, user_headers, event.id, 1)
    assert (response.status_code, response.get_json()["error"]["code"]) == (409, "EVENT_STARTED")


def test_missing_event_is_404(client, app_ctx, user_headers):
    assert book(client, user_headers, 999999, 1).status_code == 404


def test_history_lists_own_bookings_newest_first_with_filters(client, app_ctx, user, user_headers):
    first, second = factories.make_event(), factories.make_event()
    a = book(client, user_headers, first.id, 1).get_json()["data"]["booking"]["id"]
    b = book(client, user_headers, second.id, 2).get_json()["data"]["booking"]["id"]
    book(client, factories.auth_headers(factories.make_user()), first.id, 1)
    client.delete(f"/api/bookings/{a}", headers=user_headers)
    response = client.get("/api/bookings?perPage=1", headers=user_headers)
    body = response.get_json()
    assert [item["id"] for item in body["data"]] == [b]
    assert body["meta"] == {"page": 1, "perPage": 1, "total": 2, "pages": 2}
    cancelled = client.get("/api/bookings?status=cancelled", headers=user_headers).get_json()
    assert [item["id"] for item in cancelled["data"]] == [a]
    assert client.get("/api/bookings?status=bogus", headers=user_headers).status_code == 400
    assert client.get("/api/bookings?perPage=101", headers=user_headers).status_code == 400


def test_other_users_booking_is_404_but_admin_sees_it(client, app_ctx, user_headers, admin_headers):
    event = factories.make_event()
    booking_id = book(client, user_headers, event.id, 1).get_json()["data"]["booking"]["id"]
    stranger = factories.auth_headers(factories.make_user())
    assert client.get(f"/api/bookings/{booking_id}", headers=stranger).status_code == 404
    assert client.delete(f"/api/bookings/{booking_id}", headers=stranger).status_code == 404
    assert client.get(f"/api/bookings/{booking_id}", headers=admin_headers).status_code == 200
    assert client.get("/api/bookings/424242", headers=user_headers).status_code == 404


def test_cancel_returns_seats_once(client, app_ctx, user_headers):
    event = factories.make_event(capacity=5)
    booking_id = book(client, user_headers, event.id, 3).get_json()["data"]["booking"]["id"]
    response = client.delete(f"/api/bookings/{booking_id}", headers=user_headers)
    assert response.status_code == 200
    assert response.get_json()["data"]["status"] == "cancelled"
    assert booked_seats(event.id) == 0
    assert int(gate.state(event)["avail"]) == 5
    again = client.delete(f"/api/bookings/{booking_id}", headers=user_headers)
    assert (again.status_code, again.get_json()["error"]["code"]) == (409, "ALREADY_CANCELLED")
    assert int(gate.state(event)["avail"]) == 5
    kinds = db.session.scalars(select(Notification.kind).order_by(Notification.id)).all()
    assert kinds == ["booking_confirmed", "booking_cancelled"]


def test_admin_may_cancel_any_booking(client, app_ctx, user_headers, admin_headers):
    event = factories.make_event(capacity=5)
    booking_id = book(client, user_headers, event.id, 2).get_json()["data"]["booking"]["id"]
    assert client.delete(f"/api/bookings/{booking_id}", headers=admin_headers).status_code == 200
    assert booked_seats(event.id) == 0


def test_cancel_after_event_start_is_409(client, app_ctx, user):
    event = factories.make_event(capacity=5)
    headers = factories.auth_headers(user)
    booking_id = book(client, headers, event.id, 2).get_json()["data"]["booking"]["id"]
    db.session.get(Event, event.id).starts_at = db.session.get(Event, event.id).starts_at - timedelta(days=30)
    db.session.get(Event, event.id).ends_at = db.session.get(Event, event.id).ends_at - timedelta(days=30)
    db.session.commit()
    response = client.delete(f"/api/bookings/{booking_id}", headers=headers)
    assert (response.status_code, response.get_json()["error"]["code"]) == (409, "EVENT_STARTED")
    assert booked_seats(event.id) == 2


def test_history_and_detail_carry_the_event(client, app_ctx, user, user_headers):
    event = factories.make_event(capacity=10, title="Gala", venue="Hall B")
    booking = book(client, user_headers, event.id, 2).get_json()["data"]["booking"]
    summary = {"id": event.id, "title": "Gala", "startsAt": event.starts_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
               "venue": "Hall B", "status": "published"}

    listed = client.get("/api/bookings", headers=user_headers).get_json()["data"]
    shown = client.get(f"/api/bookings/{booking['id']}", headers=user_headers).get_json()["data"]

    assert listed[0]["event"] == summary and shown["event"] == summary
