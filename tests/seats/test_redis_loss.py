"""Redis wiped or restarted in the middle of a booking storm: nothing oversold,
every acknowledged booking kept, and the gate converges to PostgreSQL."""
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from evently.bookings.models import Booking
from evently.events.models import Event
from evently.extensions import db, redis_client
from evently.seats import gate, reconcile
from evently.seats import promotion
from evently.waitlist.models import WaitlistEntry
from tests import factories
from tests.redis_server import PrivateRedis
from tests.variants import other_app

pytestmark = pytest.mark.race

CAPACITY = 100
REQUESTS = 160


@pytest.fixture
def private_redis():
    server = PrivateRedis().start()
    yield server
    server.stop()


@pytest.fixture
def storm_app(app, private_redis):
    with other_app(app, REDIS_URL=private_redis.url, REDIS_RETRIES=1,
                   CELERY={"broker_url": private_redis.url, "result_backend": private_redis.url}) as storm:
        yield storm


def run_storm(storm_app, event_id, user_ids, disrupt):
    with storm_app.app_context():
        tokens = [factories.access_token(user_id) for user_id in user_ids]
    done = threading.Semaphore(0)

    def book(index):
        client = storm_app.test_client()
        response = client.post("/api/bookings", json={"eventId": event_id, "quantity": 1 + index % 2},
                               headers={"Authorization": f"Bearer {tokens[index]}"})
        done.release()
        return response.status_code, response.get_json()

    with ThreadPoolExecutor(max_workers=16) as pool:
        futures = [pool.submit(book, index) for index in range(len(user_ids))]
        for _ in range(REQUESTS // 3):
            done.acquire(timeout=60)
        disrupt()
        return [future.result(timeout=120) for future in futures]


def check_invariants(storm_app, event_id, results):
    statuses = [status for status, _ in results]
    assert 500 not in statuses
    assert set(statuses) <= {201, 503}, sorted(set(statuses))
    with storm_app.app_context():
        booked = db.session.get(Event, event_id).booked_seats
        committed = db.session.scalar(select(func.coalesce(func.sum(Booking.quantity), 0)).where(
            Booking.event_id == event_id, Booking.status == "confirmed"))
        assert committed == booked <= CAPACITY
        acknowledged = {body["data"]["booking"]["id"] for status, body in results
                        if status == 201 and body["data"]["booking"]}
        stored = set(db.session.scalars(select(Booking.id).where(Booking.event_id == event_id)).all())
        assert acknowledged <= stored
        # One reconcile period later the gate agrees with PostgreSQL exactly.
        reconcile.reconcile_event(event_id=event_id, ttl_seconds=-1)
        state = gate.state(gate.ref(event_id))
        waiting = db.session.scalar(select(func.count()).select_from(WaitlistEntry).where(
            WaitlistEntry.event_id == event_id, WaitlistEntry.status == "waiting"))
        assert int(state["avail"]) == CAPACITY - booked
        assert int(state["nwait"]) == waiting
        assert not [field for field in state if field.startswith("h:")]
        again = reconcile.reconcile_event(event_id=event_id)
        assert not again.corrected
        # Seats that went back to the gate belong to the waiters: serving them fills the event.
        promotion.promote_waitlist(event_id=event_id)
        db.session.expire_all()
        booked = db.session.get(Event, event_id).booked_seats
        db.session.remove()
    return booked


def test_flushall_mid_storm(app, storm_app, private_redis):
    with app.app_context():
        event_id = factories.make_event(capacity=CAPACITY).id
        user_ids = [user.id for user in factories.make_users(REQUESTS)]

    def wipe():
        with storm_app.app_context():
            redis_client.flushall()
            redis_client.script_flush()

    results = run_storm(storm_app, event_id, user_ids, wipe)
    booked = check_invariants(storm_app, event_id, results)
    assert booked == CAPACITY  # demand (240 seats) exceeds capacity, and not one seat leaked


def test_redis_restart_mid_storm(app, storm_app, private_redis):
    with app.app_context():
        event_id = factories.make_event(capacity=CAPACITY).id
        user_ids = [user.id for user in factories.make_users(REQUESTS)]

    def restart():
        private_redis.kill()
        time.sleep(0.5)  # requests meanwhile answer 503 quickly
        private_redis.start()

    results = run_storm(storm_app, event_id, user_ids, restart)
    assert 503 in [status for status, _ in results], "the outage must have been seen by some requests"
    check_invariants(storm_app, event_id, results)
