"""Promotion through a real Celery worker: FIFO, partial serves, notifications,
and exactly once per freed seat under duplicate delivery and racing cancellations."""
import threading

import pytest
from sqlalchemy import func, select

from evently.bookings import services as bookings
from evently.bookings.models import Booking
from evently.events.models import Event
from evently.extensions import db
from evently.notifications.models import Notification
from evently.seats import gate
from evently.seats import promotion
from evently.seats.admission import position_of
from evently.waitlist.models import WaitlistEntry
from tests import factories
from tests.waiting import wait_until

pytestmark = pytest.mark.worker


def book(user, event, quantity, **options):
    return bookings.book_seats(user=user, event_id=event.id, quantity=quantity, **options)


def waitlist_bookings(event_id):
    return db.session.scalars(select(Booking).where(Booking.event_id == event_id, Booking.source == "waitlist")
                              .order_by(Booking.id)).all()


def check_books_balance(event_id):
    db.session.expire_all()
    event = db.session.get(Event, event_id)
    confirmed = db.session.scalar(select(func.coalesce(func.sum(Booking.quantity), 0)).where(
        Booking.event_id == event_id, Booking.status == "confirmed"))
    assert confirmed == event.booked_seats <= event.capacity
    return event


def test_cancellation_promotes_the_head_and_notifies(client, app_ctx, celery_worker, smtp_server):
    event = factories.make_event(capacity=2)
    holder, head, second = factories.make_user(), factories.make_user(email="head@example.com"), factories.make_user()
    booking = book(holder, event, 2).booking
    book(head, event, 2)
    book(second, event, 1)

    response = client.delete(f"/api/bookings/{booking.id}", headers=factories.auth_headers(holder))
    assert response.status_code == 200

    promoted = wait_until(lambda: waitlist_bookings(event.id), message="head promoted")
    assert [(b.user_id, b.quantity, b.source) for b in promoted] == [(head.id, 2, "waitlist")]
    assert promoted[0].seats_freed_at is not None
    entry = db.session.scalar(select(WaitlistEntry).where(WaitlistEntry.user_id == head.id))
    assert (entry.status, entry.quantity_remaining) == ("served", 0)
    positions = client.get("/api/waitlist", headers=factories.auth_headers(second)).get_json()["data"]
    assert positions[0]["position"] == 1
    wait_until(lambda: smtp_server.messages_with("head@example.com"), message="promotion mail sent")
    assert "You got 2 ticket(s)" in smtp_server.messages_with("head@example.com")[0]
    wait_until(lambda: db.session.scalar(select(Notification.status).where(
        Notification.kind == "waitlist_promoted")) == "sent", message="outbox row marked sent")
    check_books_balance(event.id)
    assert gate.state(event)["nwait"] == "1"


def test_capacity_raise_serves_several_waiters_in_order(client, app_ctx, admin_headers, celery_worker):
    event = factories.make_event(capacity=3)
    book(factories.make_user(), event, 3)
    first, second, third = factories.make_user(), factories.make_user(), factories.make_user()
    book(first, event, 2)
    book(second, event, 1)
    book(third, event, 3)

    response = client.put(f"/api/events/{event.id}", json={"capacity": 7}, headers=admin_headers)
    assert response.status_code == 200

    wait_until(lambda: len(waitlist_bookings(event.id)) == 3, message="three promotions")
    served = [(b.user_id, b.quantity) for b in waitlist_bookings(event.id)]
    assert served == [(first.id, 2), (second.id, 1), (third.id, 1)]
    third_entry = db.session.scalar(select(WaitlistEntry).where(WaitlistEntry.user_id == third.id))
    assert (third_entry.status, third_entry.quantity_remaining) == ("waiting", 2)
    assert check_books_balance(event.id).booked_seats == 7


def test_all_or_nothing_head_keeps_its_place_while_others_fit(app_ctx, celery_worker):
    """The documented rule: an all-or-nothing entry is skipped (not dropped) while the
    free seats cannot cover it; the next entries that fit are served."""
    event = factories.make_event(capacity=3)
    holder = factories.make_user()
    booking = book(holder, event, 2).booking
    book(factories.make_user(), event, 1)
    strict, flexible = factories.make_user(), factories.make_user()
    book(strict, event, 3, allow_partial=False)
    book(flexible, event, 2)
    bookings.cancel_booking(actor=holder, booking_id=booking.id)

    wait_until(lambda: waitlist_bookings(event.id), message="flexible waiter served")
    assert [(b.user_id, b.quantity) for b in waitlist_bookings(event.id)] == [(flexible.id, 2)]
    strict_entry = db.session.scalar(select(WaitlistEntry).where(WaitlistEntry.user_id == strict.id))
    assert (strict_entry.status, strict_entry.quantity_remaining) == ("waiting", 3)
    assert position_of(strict_entry.id) == 1


def test_duplicate_delivery_promotes_each_freed_seat_once(app, app_ctx, celery_worker):
    event = factories.make_event(capacity=4)
    holder = factories.make_user()
    booking = book(holder, event, 4).booking
    waiters = [factories.make_user() for _ in range(4)]
    for waiter in waiters:
        book(waiter, event, 2)
    bookings.cancel_booking(actor=holder, booking_id=booking.id)  # frees 4 seats, enqueues one task
    # The same task delivered again several times, plus direct runs racing it.
    task = app.extensions["celery"].tasks["waitlist.promote"]
    for _ in range(3):
        task.delay(event.id, None)
    runners = [threading.Thread(target=_promote_in_context, args=(app, event.id)) for _ in range(3)]
    for runner in runners:
        runner.start()
    for runner in runners:
        runner.join(30)

    wait_until(lambda: sum(b.quantity for b in waitlist_bookings(event.id)) == 4, message="4 seats promoted")
    db.session.expire_all()
    served = [(b.user_id, b.quantity) for b in waitlist_bookings(event.id)]
    assert served == [(waiters[0].id, 2), (waiters[1].id, 2)]
    assert check_books_balance(event.id).booked_seats == 4
    assert int(gate.state(event)["avail"]) == 0


def test_two_racing_cancellations_promote_exactly_the_freed_seats(app, app_ctx, celery_worker):
    event = factories.make_event(capacity=6)
    holders = [factories.make_user() for _ in range(3)]
    held = [book(holder, event, 2).booking.id for holder in holders]
    waiters = [factories.make_user() for _ in range(5)]
    for waiter in waiters:
        book(waiter, event, 1)
    threads = [threading.Thread(target=_cancel_in_context, args=(app, holder.id, booking_id))
               for holder, booking_id in zip(holders[:2], held[:2])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    wait_until(lambda: len(waitlist_bookings(event.id)) == 4, message="4 freed seats promoted")
    served = [b.user_id for b in waitlist_bookings(event.id)]
    assert served == [waiter.id for waiter in waiters[:4]]
    assert check_books_balance(event.id).booked_seats == 6
    remaining = db.session.scalars(select(WaitlistEntry).where(WaitlistEntry.status == "waiting")).all()
    assert [entry.user_id for entry in remaining] == [waiters[4].id]


def test_event_cancellation_job_cancels_everything_and_notifies_everyone(client, app_ctx, admin_headers,
                                                                        celery_worker, smtp_server):
    event = factories.make_event(capacity=3)
    holders = [factories.make_user(email=f"holder{i}@example.com") for i in range(3)]
    for holder in holders:
        book(holder, event, 1)
    waiter = factories.make_user(email="waiter@example.com")
    book(waiter, event, 2)

    response = client.delete(f"/api/events/{event.id}", headers=admin_headers)
    assert response.status_code == 200
    job_id = response.get_json()["data"]["cancellationJob"]["id"]

    progress = wait_until(lambda: client.get(f"/api/events/{event.id}/cancellation", headers=admin_headers)
                          .get_json()["data"]["status"] == "done", message="job done")
    assert progress
    job = client.get(f"/api/events/{event.id}/cancellation", headers=admin_headers).get_json()["data"]
    assert (job["id"], job["done"], job["total"]) == (job_id, 4, 4)
    db.session.expire_all()
    assert db.session.get(Event, event.id).booked_seats == 0
    assert db.session.scalar(select(func.count()).select_from(Booking).where(Booking.status == "confirmed")) == 0
    assert db.session.scalar(select(WaitlistEntry.status)) == "cancelled"
    for address in ["holder0@example.com", "holder1@example.com", "holder2@example.com", "waiter@example.com"]:
        wait_until(lambda address=address: [m for m in smtp_server.messages_with(address) if "is cancelled" in m],
                   message=f"event-cancelled mail to {address}")
    kinds = db.session.scalars(select(Notification.kind).where(Notification.kind == "event_cancelled")).all()
    assert len(kinds) == 4
    assert client.get(f"/api/events/{event.id}/cancellation",
                      headers=factories.auth_headers(factories.make_user())).status_code == 403


def _promote_in_context(app, event_id):
    with app.app_context():
        promotion.promote_waitlist(event_id=event_id)
        db.session.remove()


def _cancel_in_context(app, user_id, booking_id):
    from evently.auth.models import User

    with app.app_context():
        bookings.cancel_booking(actor=db.session.get(User, user_id), booking_id=booking_id)
        db.session.remove()
