"""Concurrent promotion runs for the same freed seats, with the lock + unique
promotion key on and, as a negative control, off."""
import threading
import time

import pytest
from sqlalchemy import select, text

from evently.bookings import services as bookings
from evently.bookings.models import Booking
from evently.events.models import Event
from evently.extensions import db
from evently.seats import gate, holds, promotion, writer
from evently.waitlist.models import WaitlistEntry
from tests import factories

pytestmark = pytest.mark.race
RUNNERS = 4


def freed_seats_with_waiters(app):
    """4 seats freed, four waiters wanting 2 each: exactly the first two may be served."""
    with app.app_context():
        event = factories.make_event(capacity=4)
        holder = factories.make_user()
        held = bookings.book_seats(user=holder, event_id=event.id, quantity=4).booking
        waiters = [factories.make_user() for _ in range(4)]
        for waiter in waiters:
            bookings.book_seats(user=waiter, event_id=event.id, quantity=2)
        bookings.cancel_booking(actor=holder, booking_id=held.id)
        ids = event.id, [waiter.id for waiter in waiters]
        db.session.remove()
        return ids


def race_promotions(app, event_id):
    barrier = threading.Barrier(RUNNERS)

    def run():
        with app.app_context():
            barrier.wait()
            promotion.promote_waitlist(event_id=event_id)
            db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(RUNNERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    with app.app_context():
        served = [(b.user_id, b.quantity) for b in db.session.scalars(
            select(Booking).where(Booking.event_id == event_id, Booking.source == "waitlist").order_by(Booking.id))]
        db.session.remove()
    return served


@pytest.fixture
def slow_promotions(monkeypatch):
    """Every promotion step waits after its take, so every run overlaps every other."""
    take = gate.take

    def paused(event, **kwargs):
        decision = take(event, **kwargs)
        if kwargs.get("mode") == "promote":
            time.sleep(0.2)
        return decision

    monkeypatch.setattr(gate, "take", paused)


def test_racing_promotion_runs_serve_each_freed_seat_once(app, slow_promotions):
    event_id, waiters = freed_seats_with_waiters(app)
    assert race_promotions(app, event_id) == [(waiters[0], 2), (waiters[1], 2)]


def test_negative_control_without_lock_and_key_racing_runs_double_promote(app, slow_promotions, monkeypatch):
    """Proves the test above can fail: no row locks, a fresh hold id per attempt, and the
    writer's update of the served entry made unconditional (a test-only variant of its SQL)."""
    unlocked = select(Event).execution_options(populate_existing=True)
    monkeypatch.setattr(promotion, "lock_event",
                        lambda event_id: db.session.scalar(unlocked.where(Event.id == event_id)))
    monkeypatch.setattr(promotion, "next_entry", lambda event_id, free: db.session.scalar(
        select(WaitlistEntry).where(WaitlistEntry.event_id == event_id, WaitlistEntry.status == "waiting")
        .order_by(WaitlistEntry.id).limit(1).execution_options(populate_existing=True)))
    monkeypatch.setattr(promotion, "promotion_hold_id", lambda entry: holds.new_hold_id())
    monkeypatch.setattr(writer, "_statement", unconditional_serve(writer._statement))
    event_id, waiters = freed_seats_with_waiters(app)
    served = race_promotions(app, event_id)
    assert served != [(waiters[0], 2), (waiters[1], 2)]
    assert [user_id for user_id, _ in served].count(waiters[0]) > 1  # the head was served twice


def unconditional_serve(statement):
    def variant(book, wait, serve):
        sql = statement(book, wait, serve).text
        sql = sql.replace("WHERE id = :entry_id AND status = 'waiting' AND quantity_remaining >= :taken",
                          "WHERE id = :entry_id")
        sql = sql.replace("SET quantity_remaining = quantity_remaining - :taken",
                          "SET quantity_remaining = GREATEST(quantity_remaining - :taken, 0)")
        return text(sql)
    return variant
