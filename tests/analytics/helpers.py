"""A varied booking history written straight to the tables, and expectations computed in Python from the rows."""
import itertools
import random
from collections import defaultdict
from datetime import datetime, time, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select, text

from evently.analytics.models import EventDailyStat, UserBookingStat
from evently.bookings.models import Booking
from evently.events.models import Event
from evently.extensions import db
from evently.waitlist.models import WaitlistEntry
from tests import factories

_counter = itertools.count(1)
CENTS = Decimal("0.01")


def utc_midnight(days_ago):
    today = datetime.now(timezone.utc).date()
    return datetime.combine(today - timedelta(days=days_ago), time(), tzinfo=timezone.utc)


def add_booking(*, event, user, created_at, quantity=1, status="confirmed", source="direct", cancelled_at=None,
                seats_freed_at=None, updated_at=None):
    """A booking row as the engine would leave it (updated_at = the last change), committed."""
    if status == "cancelled" and cancelled_at is None:
        cancelled_at = created_at + timedelta(hours=5)
    booking = Booking(reference=f"EVT-AN{next(_counter):06d}", user_id=user.id, event_id=event.id,
                      quantity=quantity, unit_price=event.price, total_amount=event.price * quantity,
                      currency=event.currency, status=status, source=source, cancelled_at=cancelled_at,
                      cancelled_quantity=quantity if status == "cancelled" else 0,
                      seats_freed_at=seats_freed_at, created_at=created_at,
                      updated_at=updated_at or cancelled_at or created_at)
    db.session.add(booking)
    db.session.commit()
    return booking


def add_waiting(*, event, user, quantity=2):
    entry = WaitlistEntry(event_id=event.id, user_id=user.id, quantity_requested=quantity,
                          quantity_remaining=quantity, status="waiting", gate_key=f"analytics-{next(_counter)}")
    db.session.add(entry)
    db.session.commit()
    return entry


def build_history(seed=7):
    """Three events (two USD, one EUR), twelve users, ~150 bookings over ~4 months:
    cancellations, promotions (some without seats_freed_at), bookings on both sides
    of UTC midnight and of month ends. events.booked_seats = confirmed tickets."""
    rng = random.Random(seed)
    users = [factories.make_user() for _ in range(12)]
    events = [
        factories.make_event(title="Rock", capacity=400, price="25.50", starts_in=timedelta(days=30)),
        factories.make_event(title="Jazz", capacity=150, price="40.00", starts_in=timedelta(days=60)),
        factories.make_event(title="Opera", capacity=300, price="99.99", currency="EUR", starts_in=timedelta(days=90)),
    ]
    for _ in range(150):
        event = rng.choice(events)
        created_at = utc_midnight(rng.randint(1, 120)) + timedelta(seconds=rng.randint(0, 86_399))
        status = "cancelled" if rng.random() < 0.15 else "confirmed"
        promoted = rng.random() < 0.15
        add_booking(event=event, user=rng.choice(users[:9]), created_at=created_at, quantity=rng.randint(1, 4),
                    status=status, source="waitlist" if promoted else "direct",
                    cancelled_at=created_at + timedelta(hours=rng.randint(1, 500)) if status == "cancelled" else None,
                    seats_freed_at=(created_at - timedelta(seconds=rng.randint(5, 7200))
                                    if promoted and rng.random() < 0.8 else None))
    # Edges of UTC days: the last instant of one day and the first of the next.
    add_booking(event=events[0], user=users[0], created_at=utc_midnight(3) - timedelta(microseconds=1), quantity=2)
    add_booking(event=events[0], user=users[0], created_at=utc_midnight(3), quantity=3)
    for event in events:
        event.booked_seats = confirmed_tickets(event.id)
    db.session.commit()
    add_waiting(event=events[1], user=users[9], quantity=3)
    add_waiting(event=events[1], user=users[10], quantity=1)
    add_waiting(event=events[2], user=users[11], quantity=2)
    return events, users


def confirmed_tickets(event_id):
    return db.session.scalar(text("SELECT coalesce(sum(quantity), 0) FROM bookings "
                                  "WHERE event_id = :id AND status = 'confirmed'"), {"id": event_id})


def all_bookings():
    db.session.expire_all()
    return db.session.scalars(select(Booking).order_by(Booking.id)).all()


def day_of(moment):
    return moment.astimezone(timezone.utc).date()


def expected_daily(bookings):
    """analytics_event_daily as it must be, computed in Python from the booking rows."""
    groups = defaultdict(lambda: {"bookings": 0, "confirmed_bookings": 0, "tickets": 0, "revenue": Decimal("0.00"),
                                  "cancellations": 0, "cancelled_tickets": 0, "promotions": 0,
                                  "promoted_tickets": 0, "promotion_waits": 0,
                                  "promotion_wait_seconds": Decimal("0.000")})
    for booking in bookings:
        group = groups[(booking.event_id, day_of(booking.created_at), booking.currency)]
        group["bookings"] += 1
        if booking.status == "confirmed":
            group["confirmed_bookings"] += 1
            group["tickets"] += booking.quantity
            group["revenue"] += booking.total_amount
        else:
            group["cancellations"] += 1
            group["cancelled_tickets"] += booking.quantity
        if booking.source == "waitlist":
            group["promotions"] += 1
            group["promoted_tickets"] += booking.quantity
            if booking.seats_freed_at is not None:
                wait = booking.created_at - booking.seats_freed_at
                group["promotion_waits"] += 1
                group["promotion_wait_seconds"] += (Decimal(wait.days * 86_400 + wait.seconds)
                                                    + Decimal(wait.microseconds) / 1_000_000)
    for group in groups.values():
        group["promotion_wait_seconds"] = group["promotion_wait_seconds"].quantize(Decimal("0.001"), ROUND_HALF_UP)
    return dict(groups)


def rollup_daily():
    db.session.expire_all()
    rows = db.session.scalars(select(EventDailyStat)).all()
    return {(row.event_id, row.day, row.currency): {name: getattr(row, name) for name in (
        "bookings", "confirmed_bookings", "tickets", "revenue", "cancellations", "cancelled_tickets", "promotions",
        "promoted_tickets", "promotion_waits", "promotion_wait_seconds")} for row in rows}


def expected_user_stats(bookings):
    stats = {}
    for booking in bookings:
        row = stats.setdefault(booking.user_id, {"bookings": 0, "confirmed_bookings": 0, "tickets": 0,
                                                 "cancellations": 0, "first_booked_at": None,
                                                 "last_booked_at": None})
        row["bookings"] += 1
        if booking.status == "confirmed":
            row["confirmed_bookings"] += 1
            row["tickets"] += booking.quantity
            row["first_booked_at"] = min(filter(None, (row["first_booked_at"], booking.created_at)))
            row["last_booked_at"] = max(filter(None, (row["last_booked_at"], booking.created_at)))
        else:
            row["cancellations"] += 1
    return stats


def rollup_user_stats():
    db.session.expire_all()
    return {row.user_id: {name: getattr(row, name) for name in (
        "bookings", "confirmed_bookings", "tickets", "cancellations", "first_booked_at", "last_booked_at")}
        for row in db.session.scalars(select(UserBookingStat)).all()}


def table_snapshot():
    """Every rollup row including computed_at, to prove a re-run wrote nothing."""
    db.session.expire_all()
    return (db.session.execute(text("SELECT * FROM analytics_event_daily ORDER BY event_id, day, currency")).all(),
            db.session.execute(text("SELECT * FROM analytics_user_stats ORDER BY user_id")).all())


def backdate_changes(hours=1):
    """Make every booking look as if it last changed before now - hours (as history does)."""
    db.session.execute(text("UPDATE bookings SET updated_at = least(updated_at, now() - make_interval(hours => :h)), "
                            "cancelled_at = least(cancelled_at, now() - make_interval(hours => :h))"), {"h": hours})
    db.session.commit()


def money(value):
    return float(Decimal(value).quantize(CENTS, ROUND_HALF_UP))


def assert_error(response, status, code):
    assert response.status_code == status, response.get_json()
    payload = response.get_json()
    assert payload["error"]["code"] == code, payload
    assert isinstance(payload["message"], str) and payload["message"]
    return payload["error"]["details"]


def event_by_id(event_id):
    db.session.expire_all()
    return db.session.get(Event, event_id)
