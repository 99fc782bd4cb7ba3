"""The seat engine's edges, each broken on the code before the engine moved into evently/seats
(issue 17): long and multi-line titles, a booking racing a cancellation, a gate outliving its
database, told positions, a detail without a gate, cancellation progress, the strategy switch."""
import random
import threading
import time

import pytest
from sqlalchemy import func, select, text

from evently.bookings import services as bookings
from evently.bookings.models import Booking
from evently.events.models import Event
from evently.extensions import db, redis_client
from evently.notifications import services as notifications
from evently.notifications.models import Notification
from evently.seats import admission, cancellation, gate, promotion, reconcile
from evently.seats.admission import position_of
from evently.waitlist import services as waitlist
from evently.waitlist.models import WaitlistEntry
from tests import factories
from tests.race import run_threads
from tests.variants import other_app
from tests.waiting import wait_until

LONGEST_TITLE = "T" * 200


def booked(event_id):
    db.session.expire_all()
    return db.session.get(Event, event_id).booked_seats


def test_a_title_of_the_longest_allowed_length_never_stops_a_promotion(app_ctx):
    """A title over ~177 characters overflowed the notice's subject column, so every promotion
    of such an event failed, again and again, and its seats stayed unsold."""
    event = factories.make_event(capacity=2, title=LONGEST_TITLE)
    holder, waiter = factories.make_user(), factories.make_user()
    held = bookings.book_seats(user=holder, event_id=event.id, quantity=2).booking
    bookings.book_seats(user=waiter, event_id=event.id, quantity=2)
    bookings.cancel_booking(actor=holder, booking_id=held.id)

    report = promotion.promote_waitlist(event_id=event.id)

    assert report.seats == 2
    notice = db.session.scalar(select(Notification).where(Notification.kind == "waitlist_promoted"))
    assert notice.subject == f"You got 2 ticket(s) for {LONGEST_TITLE}"
    assert booked(event.id) == 2


def test_cancelling_an_event_with_the_longest_title_finishes_its_job(app_ctx):
    event = factories.make_event(capacity=3, title=LONGEST_TITLE)
    bookings.book_seats(user=factories.make_user(), event_id=event.id, quantity=3)
    bookings.book_seats(user=factories.make_user(), event_id=event.id, quantity=1)
    removal = cancellation.remove_event(event_id=event.id)

    job = cancellation.run_batch(job_id=removal.job.id)

    assert (job.status, job.done, job.total) == ("done", 2, 2)
    assert db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.kind == "event_cancelled")) == 2


@pytest.mark.parametrize("field", ["title", "venue"])
def test_control_characters_in_titles_and_venues_are_refused(client, admin_headers, field):
    event = factories.make_event()
    for value in ("Gala\r\nBcc: everyone@example.com", "Tab\there", "Bell\x07"):
        created = client.post("/api/events", headers=admin_headers, json={
            "title": "Gala", "venue": "Hall", "startsAt": "2030-01-01T19:00:00Z", "endsAt": "2030-01-01T22:00:00Z",
            "capacity": 10, "price": 5, field: value})
        updated = client.put(f"/api/events/{event.id}", headers=admin_headers, json={field: value})
        for response in (created, updated):
            assert response.status_code == 400, response.get_json()
            assert field in response.get_json()["error"]["details"]
    assert db.session.scalar(select(func.count()).select_from(Event)) == 1
    assert db.session.get(Event, event.id).title == event.title


def test_a_title_stored_with_a_line_break_is_still_mailed(app_ctx, user, smtp_server):
    """Rows written before titles were checked: every mail naming the event in its subject
    failed (a line break in a header) until it was marked failed."""
    event = factories.make_event(capacity=5, title="Gala\r\nNight")
    bookings.book_seats(user=user, event_id=event.id, quantity=1)
    cancellation.run_batch(job_id=cancellation.remove_event(event_id=event.id).job.id)
    row = db.session.scalar(select(Notification).where(Notification.kind == "event_cancelled"))

    assert notifications.deliver(notification_id=row.id).outcome == "sent"
    assert "Subject: Gala Night is cancelled" in smtp_server.messages[0]


def paused_before_write(monkeypatch):
    """Bookings wait between their Redis take and their write until `go` is set."""
    reached, go = threading.Event(), threading.Event()
    record = admission.record

    def paused(**kwargs):
        reached.set()
        go.wait(20)
        return record(**kwargs)

    monkeypatch.setattr(admission, "record", paused)
    return reached, go


@pytest.mark.race
@pytest.mark.parametrize("sold_before", [1, 3], ids=["booking", "join"])
def test_a_request_in_flight_when_the_event_is_cancelled_is_refused(app, app_ctx, admin_headers, monkeypatch,
                                                                     sold_before):
    """The guard used to check capacity only: a booking in flight committed (201) after the
    cancellation job had finished, and its holder never heard the event was cancelled."""
    event = factories.make_event(capacity=3)
    # Someone holds a seat, so the event is cancelled, not deleted; sold out, the request is a join.
    bookings.book_seats(user=factories.make_user(), event_id=event.id, quantity=sold_before)
    buyer = factories.make_user()
    reached, go = paused_before_write(monkeypatch)
    results = []
    job = (buyer.id, event.id, 2, None, None)
    request = threading.Thread(target=lambda: results.extend(run_threads(app, [job])))
    request.start()
    assert reached.wait(20)
    removed = app.test_client().delete(f"/api/events/{event.id}", headers=admin_headers)
    assert removed.status_code == 200 and removed.get_json()["data"]["status"] == "cancelled"
    go.set()
    request.join(30)

    [(status, body)] = results
    assert (status, body["error"]["code"]) == (409, "EVENT_NOT_BOOKABLE")
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Booking).where(Booking.user_id == buyer.id)) == 0
    assert db.session.scalar(select(func.count()).select_from(WaitlistEntry).where(
        WaitlistEntry.user_id == buyer.id)) == 0
    job = cancellation.run_batch(job_id=removed.get_json()["data"]["cancellationJob"]["id"])
    assert job.status == "done" and job.done == job.total == 1
    assert booked(event.id) == 0


def test_a_gate_left_over_from_another_database_is_never_used(app_ctx, client):
    """Redis kept, PostgreSQL re-created: the new event 1 inherited the old event 1's gate
    (sold out, with waiters), so a 2-seat event answered "10 tickets added to waitlist"."""
    old = factories.make_event(capacity=2)
    bookings.book_seats(user=factories.make_user(), event_id=old.id, quantity=2)
    bookings.book_seats(user=factories.make_user(), event_id=old.id, quantity=2)
    old_key = gate.key(old)
    db.session.remove()
    with db.engine.begin() as connection:  # a re-created database: same ids again, Redis untouched
        connection.execute(text("TRUNCATE events, bookings, waitlist_entries, seat_holds, notifications, users "
                                "RESTART IDENTITY CASCADE"))
    assert redis_client.exists(old_key)

    new = factories.make_event(capacity=2)
    assert new.id == old.id and gate.key(new) != old_key
    buyer = factories.make_user()
    assert client.get(f"/api/events/{new.id}").get_json()["data"]["availableSeats"] == 2
    response = client.post("/api/bookings", json={"eventId": new.id, "quantity": 2},
                           headers=factories.auth_headers(buyer))
    assert response.get_json()["message"] == "Booked 2 tickets."
    report = reconcile.reconcile_all()
    assert report.stale_gates == 1 and not redis_client.exists(old_key)
    assert int(gate.state(new)["avail"]) == 0


@pytest.mark.race
def test_the_place_a_join_is_told_is_its_place_in_the_queue(app, app_ctx, monkeypatch):
    """Concurrent joins commit (and get their ids) in another order than the gate numbered
    them: 2 of 80 were told 30/31 but were queued 31/30."""
    record = admission.record

    def jittered(**kwargs):
        time.sleep(random.random() / 50)  # commits land in another order than the takes
        return record(**kwargs)

    monkeypatch.setattr(admission, "record", jittered)
    event = factories.make_event(capacity=1)
    bookings.book_seats(user=factories.make_user(), event_id=event.id, quantity=1)
    users = factories.make_users(40)
    results = run_threads(app, [(user.id, event.id, 1, None, None) for user in users])

    told = {body["data"]["waitlistEntry"]["id"]: body["data"]["waitlistEntry"]["position"]
            for status, body in results if status == 201}
    assert len(told) == 40
    assert {entry_id: position_of(entry_id) for entry_id in told} == told


def test_event_detail_shows_no_free_seat_while_people_wait_and_the_gate_is_gone(app_ctx, client):
    event = factories.make_event(capacity=4)
    holder = factories.make_user()
    holding = bookings.book_seats(user=holder, event_id=event.id, quantity=4).booking
    bookings.book_seats(user=factories.make_user(), event_id=event.id, quantity=2)
    bookings.cancel_booking(actor=holder, booking_id=holding.id)
    redis_client.flushdb()  # the gate is gone; 4 seats are free and someone waits for them

    data = client.get(f"/api/events/{event.id}").get_json()["data"]
    assert (data["availableSeats"], data["waitlistCount"]) == (0, 1)


def test_cancellation_progress_counts_what_it_cancelled(app_ctx):
    """A waiter who leaves after the job opened used to leave it reporting more than it did."""
    event = factories.make_event(capacity=2)
    bookings.book_seats(user=factories.make_user(), event_id=event.id, quantity=2)
    leaver = factories.make_user()
    bookings.book_seats(user=leaver, event_id=event.id, quantity=1)
    bookings.book_seats(user=factories.make_user(), event_id=event.id, quantity=1)
    removal = cancellation.remove_event(event_id=event.id)
    assert removal.job.total == 3
    db.session.execute(text("UPDATE waitlist_entries SET status = 'left' WHERE user_id = :u"), {"u": leaver.id})
    db.session.commit()

    job = cancellation.run_batch(job_id=removal.job.id)

    cancelled = db.session.scalar(select(func.count()).select_from(Booking).where(Booking.status == "cancelled"))
    cancelled += db.session.scalar(select(func.count()).select_from(WaitlistEntry).where(
        WaitlistEntry.status == "cancelled"))
    assert (job.status, job.done, job.total) == ("done", cancelled, cancelled) == ("done", 2, 2)


def test_the_admission_strategy_is_chosen_once_at_start_up(app):
    with pytest.raises(RuntimeError, match="BOOKING_STRATEGY"), other_app(app, BOOKING_STRATEGY="nonsense"):
        pass
    assert type(app.extensions[admission.EXTENSION]).__name__ == "GatedAdmission"


@pytest.mark.worker
def test_a_join_next_to_free_seats_is_served_at_once(app_ctx, celery_worker):
    """A promotion is requested right after a join that leaves free seats next to a waiter who
    can take them, not only by the periodic reconcile."""
    event = factories.make_event(capacity=5)
    bookings.book_seats(user=factories.make_user(), event_id=event.id, quantity=2)
    waiter = factories.make_user()
    entry = bookings.book_seats(user=waiter, event_id=event.id, quantity=5, allow_partial=False).waitlist_entry
    partial = factories.make_user()
    waitlist.join_waitlist(user=partial, event_id=event.id, quantity=4)  # 3 free: it can take them

    served = wait_until(lambda: db.session.scalar(select(Booking).where(Booking.user_id == partial.id)),
                        message="the partial waiter served")
    assert (served.quantity, served.source) == (3, "waitlist")
    assert db.session.get(WaitlistEntry, entry.id).status == "waiting"  # the strict one keeps its place


def test_a_promotion_is_refused_by_the_writers_guard_once_the_event_has_started(app_ctx, monkeypatch):
    """The guard holds for promotions too: a run checks the event before it takes seats, and the
    writer's statement checks it again. With the run's own check blinded, the guard alone refuses,
    and the seats it took go back to the gate."""
    from datetime import datetime, timezone

    event = factories.make_event(capacity=2)
    holder, waiter = factories.make_user(), factories.make_user()
    held = bookings.book_seats(user=holder, event_id=event.id, quantity=2).booking
    bookings.book_seats(user=waiter, event_id=event.id, quantity=2)
    bookings.cancel_booking(actor=holder, booking_id=held.id)
    db.session.execute(text("UPDATE events SET starts_at = now() - interval '1 minute' WHERE id = :id"),
                       {"id": event.id})
    db.session.commit()
    monkeypatch.setattr(promotion, "utcnow", lambda: datetime(2000, 1, 1, tzinfo=timezone.utc))

    report = promotion.promote_waitlist(event_id=event.id)

    assert report.seats == 0
    assert db.session.scalar(select(func.count()).select_from(Booking).where(Booking.source == "waitlist")) == 0
    entry = db.session.scalar(select(WaitlistEntry).where(WaitlistEntry.user_id == waiter.id))
    assert (entry.status, entry.quantity_remaining) == ("waiting", 2)
    assert booked(event.id) == 0 and int(gate.state(event)["avail"]) == 2
