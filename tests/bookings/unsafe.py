"""A test-only admission strategy with both protections removed, for the race tests'
negative control: the gate is read, thought about and written back (not atomic), and
the booking is written without the guard, booked_seats updated by read-modify-write."""
import time

from sqlalchemy import select, update

from evently.bookings.models import Booking
from evently.common.ids import booking_reference
from evently.errors import SoldOut
from evently.events.models import Event
from evently.extensions import db, redis_client
from evently.seats import gate
from evently.seats.admission import EXTENSION, Admission


class UnsafeAdmission:
    def admit(self, *, user_id, event, quantity, allow_partial, join_waitlist, mode, on_recorded):
        key = gate.key(event)
        if not redis_client.hexists(key, "avail"):
            gate.rebuild(event)
        avail = int(redis_client.hget(key, "avail"))
        taken = min(quantity, max(avail, 0))
        if taken < quantity and not allow_partial:
            taken = 0
        time.sleep(0.002)
        redis_client.hset(key, "avail", avail - taken)
        if not taken:
            db.session.rollback()
            raise SoldOut()
        booking = Booking(reference=booking_reference(), user_id=user_id, event_id=event.id, quantity=taken,
                          unit_price=event.price, total_amount=event.price * taken, currency=event.currency)
        db.session.add(booking)
        booked = db.session.scalar(select(Event.booked_seats).where(Event.id == event.id))
        time.sleep(0.002)
        db.session.execute(update(Event).where(Event.id == event.id).values(booked_seats=booked + taken))
        db.session.commit()
        return Admission(booking=booking, waitlist_entry=None, requested=quantity)


def install(app):
    app.extensions[EXTENSION] = UnsafeAdmission()
