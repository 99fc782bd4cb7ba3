"""Rows the events tests need from other domains, written directly (committed for real)."""
import itertools
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import func, select

from evently.bookings.models import Booking
from evently.events.models import Event
from evently.extensions import db
from evently.waitlist.models import WaitlistEntry

_counter = itertools.count(1)


def make_booking(*, event, user, quantity=1, status="confirmed"):
    booking = Booking(reference=f"EVT-TEST{next(_counter):04d}", user_id=user.id, event_id=event.id,
                      quantity=quantity, unit_price=event.price, total_amount=event.price * quantity,
                      currency=event.currency, status=status, cancelled_quantity=quantity if status == "cancelled" else 0)
    db.session.add(booking)
    db.session.commit()
    return booking


def make_waitlist_entry(*, event, user, quantity=2, status="waiting"):
    entry = WaitlistEntry(event_id=event.id, user_id=user.id, quantity_requested=quantity,
                          quantity_remaining=quantity if status == "waiting" else 0, status=status,
                          gate_key=f"test-entry-{next(_counter)}")
    db.session.add(entry)
    db.session.commit()
    return entry


def fresh(model, ident):
    """The row as PostgreSQL has it now, not as this session last saw it."""
    db.session.expire_all()
    return db.session.get(model, ident)


def count(model, *where):
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def iso(moment):
    """The contract's timestamp format (whole seconds, UTC, `Z`)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def in_days(days, **kwargs):
    return datetime.now(timezone.utc) + timedelta(days=days, **kwargs)


def event_body(**overrides):
    starts_at = in_days(30).replace(microsecond=0)
    body = {
        "title": "Jazz Night",
        "description": "Live jazz.",
        "venue": "Blue Room",
        "startsAt": iso(starts_at),
        "endsAt": iso(starts_at + timedelta(hours=3)),
        "capacity": 120,
        "price": 25.5,
    }
    body.update(overrides)
    return {key: value for key, value in body.items() if value is not None}


def all_events():
    db.session.expire_all()
    return db.session.scalars(select(Event).order_by(Event.id)).all()


PRICE_CENTS = Decimal("0.01")
