"""The waitlist HTTP contract: join, positions, leave, the admin queue."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from evently.bookings.models import Booking
from evently.extensions import db
from evently.seats import gate
from evently.waitlist.models import WaitlistEntry
from tests import factories


def join(client, headers, event_id, quantity, **extra):
    return client.post("/api/waitlist", json={"eventId": event_id, "quantity": quantity, **extra}, headers=headers)


def fill(client, event, seats):
    headers = factories.auth_headers(factories.make_user())
    assert client.post("/api/bookings", json={"eventId": event.id, "quantity": seats}, headers=headers).status_code == 201


def test_join_when_sold_out_gives_a_position(client, app_ctx, user_headers):
    event = factories.make_event(capacity=3)
    fill(client, event, 3)
    response = join(client, user_headers, event.id, 3)
    assert response.status_code == 201, response.get_json()
    entry = response.get_json()["data"]["waitlistEntry"]
    assert (entry["position"], entry["quantity"], entry["status"]) == (1, 3, "waiting")
    assert response.get_json()["message"] == "Added to the waitlist at position 1."
    row = db.session.scalar(select(WaitlistEntry))
    assert (row.quantity_requested, row.quantity_remaining) == (3, 3)
    assert gate.state(event)["nwait"] == "1"
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 1


def test_join_when_seats_can_be_booked_is_409(client, app_ctx, user_headers):
    event = factories.make_event(capacity=5)
    response = join(client, user_headers, event.id, 2)
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "SEATS_AVAILABLE"
    assert db.session.scalar(select(func.count()).select_from(WaitlistEntry)) == 0
    assert gate.state(event).get("nwait", "0") == "0"


def test_join_for_more_than_is_free_is_allowed(client, app_ctx, user_headers):
    event = factories.make_event(capacity=5)
    fill(client, event, 4)
    assert join(client, user_headers, event.id, 2).status_code == 201


def test_join_twice_is_409(client, app_ctx, user_headers):
    event = factories.make_event(capacity=2)
    fill(client, event, 2)
    assert join(client, user_headers, event.id, 1).status_code == 201
    response = join(client, user_headers, event.id, 2)
    assert (response.status_code, response.get_json()["error"]["code"]) == (409, "ALREADY_WAITLISTED")
    assert db.session.scalar(select(func.count()).select_from(WaitlistEntry)) == 1


def test_join_validation_and_auth(client, app_ctx, user_headers):
    event = factories.make_event(capacity=1)
    assert join(client, {}, event.id, 1).status_code == 401
    for body in ({"eventId": event.id}, {"eventId": event.id, "quantity": 0}, {"eventId": event.id, "quantity": 1, "x": 1}):
        response = client.post("/api/waitlist", json=body, headers=user_headers)
        assert response.status_code == 400
        assert response.get_json()["error"]["code"] == "VALIDATION_ERROR"
    assert join(client, user_headers, 424242, 1).status_code == 404


@pytest.mark.parametrize("event_kwargs, code", [
    ({"status": "cancelled"}, "EVENT_NOT_BOOKABLE"),
    ({"starts_in": timedelta(minutes=-5)}, "EVENT_STARTED"),
])
def test_join_a_closed_event_is_409(client, app_ctx, user_headers, event_kwargs, code):
    event = factories.make_event(capacity=1, **event_kwargs)

    response = join(client, user_headers, event.id, 1)

    assert (response.status_code, response.get_json()["error"]["code"]) == (409, code)
    assert db.session.scalar(select(func.count()).select_from(WaitlistEntry)) == 0


def test_join_for_more_than_one_person_may_hold_is_409(client, app_ctx, user_headers):
    event = factories.make_event(capacity=5, max_per_user=2)  # checked before whether seats are free

    response = join(client, user_headers, event.id, 3)

    assert (response.status_code, response.get_json()["error"]["code"]) == (409, "PER_USER_LIMIT")
    assert response.get_json()["error"]["details"] == {"maxPerUser": 2, "held": 0, "requested": 3}
    assert db.session.scalar(select(func.count()).select_from(WaitlistEntry)) == 0


def test_my_entries_show_live_positions_and_leaving_moves_others_up(client, app_ctx):
    event = factories.make_event(capacity=3)
    fill(client, event, 3)
    users = [factories.make_user() for _ in range(3)]
    headers = [factories.auth_headers(user) for user in users]
    for index, header in enumerate(headers):
        assert join(client, header, event.id, index + 1).status_code == 201
    third = client.get("/api/waitlist", headers=headers[2]).get_json()["data"]
    assert [(entry["eventId"], entry["position"], entry["quantity"]) for entry in third] == [(event.id, 3, 3)]

    left = client.delete(f"/api/waitlist/{event.id}", headers=headers[0])
    assert left.status_code == 200
    assert left.get_json()["data"]["waitlistEntry"]["status"] == "left"
    assert client.get("/api/waitlist", headers=headers[2]).get_json()["data"][0]["position"] == 2
    assert client.get("/api/waitlist", headers=headers[0]).get_json()["data"] == []
    assert db.session.get(WaitlistEntry, 1).status == "left"
    assert gate.state(event)["nwait"] == "2"
    again = client.delete(f"/api/waitlist/{event.id}", headers=headers[0])
    assert (again.status_code, again.get_json()["error"]["code"]) == (404, "NOT_FOUND")


def test_admin_sees_the_whole_queue(client, app_ctx, admin_headers, user_headers):
    event = factories.make_event(capacity=2)
    fill(client, event, 2)
    users = [factories.make_user() for _ in range(3)]
    for user in users:
        join(client, factories.auth_headers(user), event.id, 2)
    response = client.get(f"/api/events/{event.id}/waitlist?perPage=2&page=2", headers=admin_headers)
    assert response.status_code == 200
    body = response.get_json()
    assert body["meta"] == {"page": 2, "perPage": 2, "total": 3, "pages": 2}
    assert [(entry["position"], entry["userId"]) for entry in body["data"]] == [(3, users[2].id)]
    assert body["data"][0]["waitingSince"].endswith("Z")
    assert client.get(f"/api/events/{event.id}/waitlist", headers=user_headers).status_code == 403
    assert client.get(f"/api/events/{event.id}/waitlist").status_code == 401
    assert client.get("/api/events/999999/waitlist", headers=admin_headers).status_code == 404
