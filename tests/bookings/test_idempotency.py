"""Idempotency-Key with Stripe's semantics."""
from sqlalchemy import func, select

from evently.bookings.models import Booking, IdempotencyRecord
from evently.events.models import Event
from evently.extensions import db
from evently.seats import gate
from tests import factories


def post(client, headers, key, body):
    return client.post("/api/bookings", json=body, headers={**headers, "Idempotency-Key": key})


def test_same_key_same_body_replays_the_first_response(client, app_ctx, user_headers):
    event = factories.make_event(capacity=10)
    body = {"eventId": event.id, "quantity": 2}
    first = post(client, user_headers, "k-1", body)
    second = post(client, user_headers, "k-1", body)
    assert first.status_code == second.status_code == 201
    assert first.get_json() == second.get_json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 1
    assert db.session.get(Event, event.id).booked_seats == 2


def test_same_key_different_body_is_422(client, app_ctx, user_headers):
    event = factories.make_event(capacity=10)
    post(client, user_headers, "k-2", {"eventId": event.id, "quantity": 2})
    response = post(client, user_headers, "k-2", {"eventId": event.id, "quantity": 3})
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 1


def test_errors_are_not_cached(client, app_ctx, user_headers):
    event = factories.make_event(capacity=10, status="draft")
    body = {"eventId": event.id, "quantity": 1}
    assert post(client, user_headers, "k-3", body).status_code == 404
    assert db.session.scalar(select(func.count()).select_from(IdempotencyRecord)) == 0
    db.session.get(Event, event.id).status = "published"
    db.session.commit()
    assert post(client, user_headers, "k-3", body).status_code == 201


def test_keys_are_per_user(client, app_ctx, user_headers):
    event = factories.make_event(capacity=10)
    body = {"eventId": event.id, "quantity": 1}
    other = factories.auth_headers(factories.make_user())
    assert post(client, user_headers, "shared", body).status_code == 201
    assert post(client, other, "shared", body).status_code == 201
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 2


def test_a_request_that_died_after_committing_is_found_again(client, app_ctx, user, user_headers):
    """The record stayed in progress (the process died before storing the response);
    once stale, a retry is answered with the booking that did commit, not a new one."""
    from datetime import timedelta

    from evently.bookings import idempotency

    event = factories.make_event(capacity=10)
    body = {"eventId": event.id, "quantity": 2}
    first = post(client, user_headers, "k-4", body).get_json()
    record = db.session.get(IdempotencyRecord, (user.id, "k-4"))
    record.state, record.response_body, record.response_status = "in_progress", None, None
    record.created_at = record.created_at - idempotency.STALE_AFTER - timedelta(seconds=1)
    db.session.commit()
    retry = post(client, user_headers, "k-4", body)
    assert retry.status_code == 201
    assert retry.get_json()["data"]["booking"]["id"] == first["data"]["booking"]["id"]
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 1
    db.session.expire_all()
    assert db.session.get(Event, event.id).booked_seats == 2
    assert int(gate.state(event_id=event.id)["avail"]) == 8  # the retry's fresh take went back


def test_bad_idempotency_key_is_400(client, app_ctx, user_headers):
    event = factories.make_event(capacity=10)
    response = post(client, user_headers, "x" * 300, {"eventId": event.id, "quantity": 1})
    assert response.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 0
