"""Idempotency-Key with Stripe's semantics."""
import pytest
from sqlalchemy import func, select, update

from evently.bookings.models import Booking, IdempotencyRecord
from evently.common.models import utcnow
from evently.events.models import Event
from evently.extensions import db
from evently.seats import gate, reconcile
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


def test_a_business_error_is_the_keys_answer_and_is_replayed(client, app_ctx, user_headers):
    """Stripe: a request that finished with a 4xx business error has finished; its key replays it."""
    event = factories.make_event(capacity=10, status="draft")
    body = {"eventId": event.id, "quantity": 1}
    first = post(client, user_headers, "k-3", body)
    assert first.status_code == 404
    db.session.get(Event, event.id).status = "published"
    db.session.commit()
    again = post(client, user_headers, "k-3", body)
    assert (again.status_code, again.get_json()) == (404, first.get_json())
    assert again.headers["Idempotent-Replayed"] == "true"
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 0


def test_keys_are_per_user(client, app_ctx, user_headers):
    event = factories.make_event(capacity=10)
    body = {"eventId": event.id, "quantity": 1}
    other = factories.auth_headers(factories.make_user())
    assert post(client, user_headers, "shared", body).status_code == 201
    assert post(client, other, "shared", body).status_code == 201
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 2


def test_a_committed_booking_and_its_answer_commit_together(client, app_ctx, user, user_headers):
    """The key's answer is recorded in the booking's own transaction: however late a retry
    comes, it finds the answer (never an in-progress key with a booking behind it)."""
    event = factories.make_event(capacity=10)
    body = {"eventId": event.id, "quantity": 2}
    first = post(client, user_headers, "k-4", body).get_json()
    record = db.session.get(IdempotencyRecord, (user.id, "k-4"))
    assert (record.state, record.response_status) == ("done", 201)
    retry = post(client, user_headers, "k-4", body)
    assert retry.status_code == 201 and retry.get_json() == first
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 1


def dead_first_attempt(user, key, body, *, seats_held, event):
    """What a web worker killed mid-request leaves: an in-progress record gone stale, and
    (if it died after its take) seats held in Redis under a hold nobody will commit."""
    from datetime import timedelta

    from evently.bookings import idempotency

    if seats_held:
        gate.take(event, hold_id="dead-attempt", quantity=seats_held)
    loaded = {"event_id": body["eventId"], "quantity": body["quantity"], "allow_partial": True, "join_waitlist": True}
    db.session.add(IdempotencyRecord(
        user_id=user.id, key=key, execution_id="dead", state="in_progress",
        request_hash=idempotency.request_fingerprint("POST", "/api/bookings", loaded),
        created_at=utcnow() - idempotency.STALE_AFTER - timedelta(seconds=1)))
    db.session.commit()


def test_a_key_whose_first_attempt_died_is_executed_again_once(client, app_ctx, user, user_headers):
    """A web worker died mid-request and the reaper has returned its seats: every retry used to
    answer 503 "please retry" (the key's hold id was released for good) and park seats again."""
    event = factories.make_event(capacity=10)
    body = {"eventId": event.id, "quantity": 2}
    dead_first_attempt(user, "k-dead", body, seats_held=2, event=event)
    reconcile.reconcile_event(event.id, ttl_seconds=-1)  # the dead attempt's seats come back
    retries = [post(client, user_headers, "k-dead", body) for _ in range(3)]
    assert [r.status_code for r in retries] == [201, 201, 201]
    assert len({r.get_json()["data"]["booking"]["id"] for r in retries}) == 1
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 1
    assert int(gate.state(event)["avail"]) == 8 and not [f for f in gate.state(event) if f.startswith("h:")]


def test_a_key_whose_first_attempt_is_fresh_is_in_progress(client, app_ctx, user, user_headers):
    event = factories.make_event(capacity=10)
    body = {"eventId": event.id, "quantity": 2}
    dead_first_attempt(user, "k-busy", body, seats_held=0, event=event)
    record = db.session.get(IdempotencyRecord, (user.id, "k-busy"))
    record.created_at = utcnow()
    db.session.commit()
    response = post(client, user_headers, "k-busy", body)
    assert (response.status_code, response.get_json()["error"]["code"]) == (409, "IDEMPOTENCY_IN_PROGRESS")
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 0


def test_the_issues_poisoned_key_now_replays_instead_of_503_forever(client, app_ctx, user, user_headers):
    """The key's first request ended ALREADY_WAITLISTED. Every retry used to answer 503 and park
    a free seat in a dead hold; reusing the key for another event hid that event's seats."""
    event = factories.make_event(capacity=3)
    other_event = factories.make_event(capacity=30)
    factories_fill = factories.auth_headers(factories.make_user())
    assert client.post("/api/bookings", json={"eventId": event.id, "quantity": 3}, headers=factories_fill).status_code == 201
    assert post(client, user_headers, "k-x", {"eventId": event.id, "quantity": 1}).status_code == 201  # waits
    body = {"eventId": event.id, "quantity": 2}
    answers = [post(client, user_headers, "k-poison", body) for _ in range(3)]
    assert [(a.status_code, a.get_json()["error"]["code"]) for a in answers] == [(409, "ALREADY_WAITLISTED")] * 3
    for reuse in range(3):
        response = post(client, user_headers, "k-poison", {"eventId": other_event.id, "quantity": 10})
        assert response.status_code == 422
    assert not [field for field in gate.state(event) if field.startswith("h:")]
    assert gate.state(other_event) == {}  # no seat of the other event was ever taken
    assert client.get(f"/api/events/{other_event.id}").get_json()["data"]["availableSeats"] == 30


@pytest.mark.race
def test_a_slow_attempt_whose_key_was_taken_over_cannot_book_a_second_time(app, app_ctx, user):
    """A first attempt that only looked dead: a retry took its key over and booked; when the
    slow one reaches its commit it no longer holds the key, so it books nothing."""
    from evently.bookings import idempotency
    from evently.bookings.services import book_seats
    from evently.errors import IdempotencyInProgress

    event = factories.make_event(capacity=10)
    body = {"eventId": event.id, "quantity": 2}
    fingerprint = idempotency.request_fingerprint("POST", "/api/bookings", body)
    slow = idempotency.begin(user_id=user.id, key="k-slow", fingerprint=fingerprint)
    db.session.execute(update(IdempotencyRecord).values(created_at=utcnow() - idempotency.STALE_AFTER * 2))
    db.session.commit()
    retry = idempotency.begin(user_id=user.id, key="k-slow", fingerprint=fingerprint)
    assert retry.execution_id != slow.execution_id
    idempotency.execute(retry, render=lambda result: {"id": result.booking.id},
                        run=lambda on_recorded: book_seats(user=user, event_id=event.id, quantity=2,
                                                           on_recorded=on_recorded))
    with pytest.raises(IdempotencyInProgress):
        idempotency.execute(slow, render=lambda result: {"id": result.booking.id},
                            run=lambda on_recorded: book_seats(user=user, event_id=event.id, quantity=2,
                                                               on_recorded=on_recorded))
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 1
    db.session.expire_all()
    assert db.session.get(Event, event.id).booked_seats == 2
    assert int(gate.state(event)["avail"]) == 8  # the slow attempt's seats went back


def test_bad_idempotency_key_is_400(client, app_ctx, user_headers):
    event = factories.make_event(capacity=10)
    response = post(client, user_headers, "x" * 300, {"eventId": event.id, "quantity": 1})
    assert response.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 0
