"""A promotion's tickets come with its booking, once, however often its task is delivered."""
import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from evently.bookings import services as bookings
from evently.bookings.models import Booking
from evently.events.models import Event
from evently.extensions import db
from evently.seats import promotion, writer
from evently.tickets.models import Ticket
from tests import factories
from tests.waiting import wait_until

pytestmark = pytest.mark.worker


def promoted(event_id):
    return db.session.scalars(select(Booking).where(Booking.event_id == event_id, Booking.source == "waitlist")
                              .order_by(Booking.id)).all()


def seats_of(booking_id):
    return db.session.scalars(select(Ticket.seat_index).where(Ticket.booking_id == booking_id)
                              .order_by(Ticket.seat_index)).all()


def _promote_in_context(app, event_id):
    with app.app_context():
        promotion.promote_waitlist(event_id=event_id)
        db.session.remove()


def test_a_promotion_delivered_many_times_writes_its_tickets_once(app, app_ctx, celery_worker):
    event = factories.make_event(capacity=4)
    holder = factories.make_user()
    held = bookings.book_seats(user=holder, event_id=event.id, quantity=4).booking
    waiters = [factories.make_user() for _ in range(3)]
    for waiter in waiters:
        bookings.book_seats(user=waiter, event_id=event.id, quantity=2)
    bookings.cancel_booking(actor=holder, booking_id=held.id)  # 4 seats freed, one task sent
    task = app.extensions["celery"].tasks["waitlist.promote"]
    for _ in range(3):
        task.delay(event.id, None)
    runners = [threading.Thread(target=_promote_in_context, args=(app, event.id)) for _ in range(3)]
    for runner in runners:
        runner.start()
    for runner in runners:
        runner.join(30)

    wait_until(lambda: sum(b.quantity for b in promoted(event.id)) == 4, message="4 seats promoted")
    served = promoted(event.id)
    assert [(b.user_id, b.quantity) for b in served] == [(waiters[0].id, 2), (waiters[1].id, 2)]
    assert [seats_of(b.id) for b in served] == [[1, 2], [1, 2]]
    valid = db.session.scalar(select(func.count()).select_from(Ticket).where(Ticket.event_id == event.id,
                                                                             Ticket.status == "valid"))
    assert valid == db.session.get(Event, event.id).booked_seats == 4


def test_a_replayed_promotion_step_writes_no_second_booking_or_tickets(app_ctx):
    """What a redelivered task meets when its first run committed: the same hold id. The
    claim's conflict rolls back the whole statement, tickets included."""
    event = factories.make_event(capacity=2)
    holder = factories.make_user()
    held = bookings.book_seats(user=holder, event_id=event.id, quantity=2).booking
    waiter = factories.make_user()
    entry = bookings.book_seats(user=waiter, event_id=event.id, quantity=1).waitlist_entry
    bookings.cancel_booking(actor=holder, booking_id=held.id)
    promotion.promote_waitlist(event_id=event.id)
    booking = promoted(event.id)[0]
    before = db.session.scalar(select(func.count()).select_from(Ticket))

    with pytest.raises(IntegrityError) as raised:
        writer.write(event=db.session.get(Event, event.id), user_id=waiter.id, hold_id=booking.hold_id, taken=1,
                     served=writer.Served(entry_id=entry.id, remaining=0))
    db.session.rollback()

    assert writer.conflict(raised.value) == "hold_recorded"
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == before
    assert len(promoted(event.id)) == 1 and seats_of(booking.id) == [1]
