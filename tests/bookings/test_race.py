"""Concurrency proven for real: 200 requests from threads and two processes race
for a 100-seat event, then the invariants are checked in PostgreSQL and Redis."""
import random

import pytest
from sqlalchemy import func, select

from evently.bookings.models import Booking
from evently.seats.admission import position_of
from evently.events.models import Event
from evently.extensions import db
from evently.seats import gate
from evently.waitlist.models import WaitlistEntry
from evently.seats.admission import EXTENSION
from tests import factories
from tests.bookings import unsafe
from tests.race import race, run_threads
from tests.variants import other_app

pytestmark = pytest.mark.race

CAPACITY = 100
REQUESTS = 200


def storm_jobs(event_id, users, seed):
    rng = random.Random(seed)
    return [(user.id, event_id, rng.randint(1, 4), None, None) for user in users]


def committed_seats(event_id):
    db.session.expire_all()
    return db.session.scalar(select(func.coalesce(func.sum(Booking.quantity), 0)).where(
        Booking.event_id == event_id, Booking.status == "confirmed"))


def told_positions(results):
    """The waitlist positions the 201 answers gave, sorted."""
    return sorted(body["data"]["waitlistEntry"]["position"] for _, body in results if body["data"]["waitlistEntry"])


@pytest.mark.parametrize("seed", [11, 23, 42])
def test_flash_sale_never_oversells(app, app_ctx, seed):
    event = factories.make_event(capacity=CAPACITY, max_per_booking=4)
    users = factories.make_users(REQUESTS)
    jobs = storm_jobs(event.id, users, seed)
    demand = sum(job[2] for job in jobs)
    assert demand > CAPACITY

    results = race(app, jobs, processes=2)

    statuses = [status for status, _ in results]
    assert len(results) == REQUESTS
    assert all(status == 201 for status in statuses), sorted(set(statuses))
    db.session.expire_all()
    assert db.session.get(Event, event.id).booked_seats == CAPACITY
    assert committed_seats(event.id) == CAPACITY
    entries = db.session.scalars(select(WaitlistEntry).where(WaitlistEntry.event_id == event.id,
                                                             WaitlistEntry.status == "waiting")).all()
    assert sum(entry.quantity_remaining for entry in entries) == demand - CAPACITY
    positions = sorted(position_of(entry.id) for entry in entries)
    assert positions == list(range(1, len(entries) + 1))
    assert told_positions(results) == positions  # no two clients were told the same place
    # Every acknowledged booking is in PostgreSQL with the quantity the client was told.
    acknowledged = {body["data"]["booking"]["id"]: body["data"]["booking"]["quantity"]
                    for _, body in results if body["data"]["booking"]}
    stored = dict(db.session.execute(select(Booking.id, Booking.quantity).where(Booking.event_id == event.id)).all())
    assert acknowledged == stored
    state = gate.state(event)
    assert int(state["avail"]) == 0 and int(state["nwait"]) == len(entries)
    assert not [field for field in state if field.startswith("h:")]


def test_row_lock_strategy_never_oversells_either(app, app_ctx):
    """BOOKING_STRATEGY=pglock, the benchmark's baseline (event row locked, no Redis gate),
    keeps the same promises under the same race."""
    baseline = {"BOOKING_STRATEGY": "pglock"}
    event = factories.make_event(capacity=CAPACITY, max_per_booking=4)
    users = factories.make_users(REQUESTS)
    jobs = storm_jobs(event.id, users, 5)
    with other_app(app, **baseline) as pglock:
        results = race(pglock, jobs, processes=2, overrides=baseline)
    assert gate.state(event) == {}  # the Redis gate was never consulted
    demand = sum(job[2] for job in jobs)
    assert sorted({status for status, _ in results}) == [201]
    db.session.expire_all()
    assert db.session.get(Event, event.id).booked_seats == CAPACITY == committed_seats(event.id)
    entries = db.session.scalars(select(WaitlistEntry).where(WaitlistEntry.event_id == event.id,
                                                             WaitlistEntry.status == "waiting")).all()
    assert sum(entry.quantity_remaining for entry in entries) == demand - CAPACITY
    assert sorted(position_of(entry.id) for entry in entries) == list(range(1, len(entries) + 1))
    assert told_positions(results) == list(range(1, len(entries) + 1))
    acknowledged = {body["data"]["booking"]["id"]: body["data"]["booking"]["quantity"]
                    for _, body in results if body["data"]["booking"]}
    stored = dict(db.session.execute(select(Booking.id, Booking.quantity).where(Booking.event_id == event.id)).all())
    assert acknowledged == stored


def test_negative_control_without_guards_the_same_race_oversells(app, app_ctx):
    """Proves the race test can fail: a test-only strategy without the gate's atomicity and the guard."""
    event = factories.make_event(capacity=CAPACITY, max_per_booking=4)
    users = factories.make_users(REQUESTS)
    saved = app.extensions[EXTENSION]
    unsafe.install(app)
    try:
        race(app, storm_jobs(event.id, users, 7), processes=2, setup="tests.bookings.unsafe:install")
    finally:
        app.extensions[EXTENSION] = saved
    assert committed_seats(event.id) > CAPACITY


def test_same_idempotency_key_ten_times_in_parallel_books_once(app, app_ctx, user):
    event = factories.make_event(capacity=50)
    headers = {"Idempotency-Key": "pay-once-123"}
    jobs = [(user.id, event.id, 2, None, headers) for _ in range(10)]
    results = run_threads(app, jobs)
    statuses = sorted(status for status, _ in results)
    assert set(statuses) <= {201, 409}, statuses
    assert 201 in statuses
    booking_ids = {body["data"]["booking"]["id"] for status, body in results if status == 201}
    assert len(booking_ids) == 1
    for status, body in results:
        if status == 409:
            assert body["error"]["code"] == "IDEMPOTENCY_IN_PROGRESS"
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 1
    assert committed_seats(event.id) == 2
