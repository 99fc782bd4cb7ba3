"""Invariants checked in PostgreSQL and Redis after every storm."""
from sqlalchemy import select

from evently.bookings.models import Booking
from evently.events.models import Event
from evently.extensions import db
from evently.seats import gate, reconcile


def acknowledged_bookings(results):
    return {body["data"]["booking"]["id"]: body["data"]["booking"]["quantity"]
            for status, body in results if status == 201 and body["data"]["booking"]}


def check_jepsen_bound(event_id, results, requested):
    """Every acknowledged booking is stored; booked seats lie between what was
    acknowledged and what was attempted; nothing is oversold."""
    db.session.expire_all()
    event = db.session.get(Event, event_id)
    stored = dict(db.session.execute(select(Booking.id, Booking.quantity).where(
        Booking.event_id == event_id, Booking.status == "confirmed")).all())
    acknowledged = acknowledged_bookings(results)
    for booking_id, quantity in acknowledged.items():
        assert stored.get(booking_id) == quantity, f"acknowledged booking {booking_id} lost"
    booked = sum(stored.values())
    assert booked == event.booked_seats
    assert sum(acknowledged.values()) <= booked <= min(sum(requested), event.capacity)
    return event


def live_hold_seats(event_id):
    return sum(taken for taken, _waitlisted, _ts in gate.holds(gate.ref(event_id)).values())


def check_gate_exact(event_id):
    """Redis counts each hold once: available + held + booked == capacity."""
    db.session.expire_all()
    event = db.session.get(Event, event_id)
    avail = int(gate.state(gate.ref(event_id))["avail"])
    assert avail + live_hold_seats(event_id) + event.booked_seats == event.capacity
    return avail


def check_converges(event_id):
    """After a reconcile (expired holds returned), the gate equals PostgreSQL and stays put."""
    reconcile.reconcile_event(event_id=event_id, ttl_seconds=-1)
    db.session.expire_all()
    event = db.session.get(Event, event_id)
    state = gate.state(gate.ref(event_id))
    assert int(state["avail"]) == event.capacity - event.booked_seats
    assert not [field for field in state if field.startswith("h:")]
    assert not reconcile.reconcile_event(event_id=event_id).corrected
