"""maxPerUser: one user's confirmed plus waiting seats for an event never pass it, even when the
same user sends 20 requests at once (one user bought all 30 seats of an event in 3 requests)."""
import time

import pytest
from sqlalchemy import func, select

from evently.bookings.models import Booking
from evently.extensions import db
from evently.seats import gate
from evently.waitlist.models import WaitlistEntry
from tests import factories
from tests.race import race


def held(user_id, event_id):
    db.session.expire_all()
    booked = db.session.scalar(select(func.coalesce(func.sum(Booking.quantity), 0)).where(
        Booking.user_id == user_id, Booking.event_id == event_id, Booking.status == "confirmed"))
    waiting = db.session.scalar(select(func.coalesce(func.sum(WaitlistEntry.quantity_remaining), 0)).where(
        WaitlistEntry.user_id == user_id, WaitlistEntry.event_id == event_id, WaitlistEntry.status == "waiting"))
    return booked + waiting


def book(client, headers, event_id, quantity):
    return client.post("/api/bookings", json={"eventId": event_id, "quantity": quantity}, headers=headers)


def test_a_request_past_the_cap_is_409_and_changes_nothing(client, app_ctx, user, user_headers):
    event = factories.make_event(capacity=30, max_per_user=4)
    assert book(client, user_headers, event.id, 3).status_code == 201

    response = book(client, user_headers, event.id, 2)

    assert response.status_code == 409
    error = response.get_json()["error"]
    assert (error["code"], error["details"]) == ("PER_USER_LIMIT", {"maxPerUser": 4, "held": 3, "requested": 2})
    assert held(user.id, event.id) == 3
    assert not [field for field in gate.state(event) if field.startswith("h:")]
    assert book(client, user_headers, event.id, 1).status_code == 201


def test_waiting_seats_count_towards_the_cap(client, app_ctx, user, user_headers):
    event = factories.make_event(capacity=2, max_per_user=3)
    assert book(client, factories.auth_headers(factories.make_user()), event.id, 2).status_code == 201
    assert book(client, user_headers, event.id, 2).status_code == 201  # waits for 2

    assert book(client, user_headers, event.id, 2).get_json()["error"]["code"] == "PER_USER_LIMIT"
    assert client.put(f"/api/events/{event.id}", json={"maxPerUser": None},
                      headers=factories.auth_headers(factories.make_user(role="admin"))).status_code == 200


@pytest.mark.race
def test_twenty_concurrent_requests_by_one_user_never_pass_the_cap(app, app_ctx, user):
    event = factories.make_event(capacity=30, max_per_user=4, max_per_booking=4)
    jobs = [(user.id, event.id, 1 + index % 2, {"joinWaitlist": False}, None) for index in range(20)]

    results = race(app, jobs, processes=2)

    statuses = sorted(status for status, _ in results)
    assert set(statuses) == {201, 409} and 500 not in statuses
    assert held(user.id, event.id) <= 4
    assert sum(body["data"]["booking"]["quantity"] for status, body in results if status == 201) == held(user.id,
                                                                                                           event.id)
    db.session.expire_all()
    assert int(gate.state(event)["avail"]) == 30 - held(user.id, event.id)


def without_the_lock(_app=None):
    """Test-only: the cap still checked, but without its (event, user) lock."""
    from evently.seats import admission

    check = admission.within_per_user_cap

    def unlocked(event, *, user_id, adding, locked=False):
        check(event, user_id=user_id, adding=adding)
        if locked:
            time.sleep(0.05)  # the window every check-then-write has, widened so the race is met every run

    admission.within_per_user_cap = unlocked


@pytest.mark.race
def test_negative_control_without_the_lock_the_same_race_passes_the_cap(app, app_ctx, user, monkeypatch):
    """Proves the race above can fail: the check alone, unlocked, lets concurrent requests through."""
    from evently.seats import admission

    monkeypatch.setattr(admission, "within_per_user_cap", admission.within_per_user_cap)  # restored afterwards
    without_the_lock()
    event = factories.make_event(capacity=30, max_per_user=4, max_per_booking=4)
    jobs = [(user.id, event.id, 1 + index % 2, {"joinWaitlist": False}, None) for index in range(20)]

    race(app, jobs, processes=2, setup="tests.bookings.test_per_user_cap:without_the_lock")

    assert held(user.id, event.id) > 4
