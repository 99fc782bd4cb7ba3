"""Each process's copy of what a booking reads of an event (EVENT_CACHE_SECONDS): a flash sale's
bookings read no event row, and a booking decided on an old copy never commits with it."""
from decimal import Decimal

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import select, text

from evently.bookings.models import Booking
from evently.errors import ValidationError
from evently.extensions import db
from evently.seats import admission
from evently.bookings import services as bookings
from evently.common.ttl_cache import LockedTTLCache
from tests import factories


@pytest.fixture
def event_cache(app, monkeypatch):
    monkeypatch.setitem(app.extensions, admission.EVENT_CACHE, LockedTTLCache(seconds=60, max_entries=100))


def statements(action):
    seen = []
    listener = lambda _conn, _cursor, statement, *_args: seen.append(" ".join(statement.split()))  # noqa: E731
    sa_event.listen(db.engine, "before_cursor_execute", listener)
    try:
        action()
    finally:
        sa_event.remove(db.engine, "before_cursor_execute", listener)
    return seen


def buyer_id_only(user_id):
    from evently.auth.tokens import Caller

    return Caller(id=user_id, role="user")


def change_behind_the_cache(event_id, assignments, *, bump_revision=True):
    """An admin's change committed by another process: this one's copy is not told."""
    revision = ", revision = revision + 1" if bump_revision else ""
    db.session.execute(text(f"UPDATE events SET {assignments}{revision} WHERE id = :id"), {"id": event_id})
    db.session.commit()


def test_a_booking_with_a_copy_of_the_event_reads_no_event_row(app_ctx, event_cache):
    event = factories.make_event(capacity=10)
    bookings.book_seats(user=factories.make_user(), event_id=event.id, quantity=1)  # the copy is taken
    event_id, buyer = event.id, factories.make_user()
    buyer_id = buyer.id

    seen = statements(lambda: bookings.book_seats(user=buyer_id_only(buyer_id), event_id=event_id, quantity=2))

    assert not [statement for statement in seen if statement.startswith("SELECT") and "FROM events" in statement]
    assert len(seen) == 1  # the writer's one statement (then COMMIT)


def test_a_price_changed_since_the_copy_is_the_price_booked(app_ctx, event_cache):
    event = factories.make_event(capacity=10, price="25.00")
    bookings.book_seats(user=factories.make_user(), event_id=event.id, quantity=1)
    change_behind_the_cache(event.id, "price = 99.00")

    result = bookings.book_seats(user=factories.make_user(), event_id=event.id, quantity=2)

    assert (result.booking.unit_price, result.booking.total_amount) == (Decimal("99.00"), Decimal("198.00"))


def test_negative_control_without_the_revision_the_old_price_would_be_booked(app_ctx, event_cache):
    event = factories.make_event(capacity=10, price="25.00")
    bookings.book_seats(user=factories.make_user(), event_id=event.id, quantity=1)
    change_behind_the_cache(event.id, "price = 99.00", bump_revision=False)

    result = bookings.book_seats(user=factories.make_user(), event_id=event.id, quantity=2)

    assert result.booking.unit_price == Decimal("25.00")


def test_a_limit_lowered_since_the_copy_refuses_the_booking(app_ctx, event_cache):
    event = factories.make_event(capacity=10, max_per_booking=10)
    bookings.book_seats(user=factories.make_user(), event_id=event.id, quantity=1)
    change_behind_the_cache(event.id, "max_per_booking = 2")

    with pytest.raises(ValidationError):
        bookings.book_seats(user=factories.make_user(), event_id=event.id, quantity=6)
    assert db.session.scalar(select(Booking.quantity).where(Booking.quantity == 6)) is None


def test_the_admins_own_process_forgets_its_copy_at_once(client, app_ctx, admin_headers, event_cache):
    event = factories.make_event(capacity=10, price="25.00")
    bookings.book_seats(user=factories.make_user(), event_id=event.id, quantity=1)
    assert client.put(f"/api/events/{event.id}", json={"price": 30}, headers=admin_headers).status_code == 200

    seen = statements(lambda: bookings.book_seats(user=factories.make_user(), event_id=event.id, quantity=1))

    assert [statement for statement in seen if statement.startswith("SELECT") and "FROM events" in statement]
