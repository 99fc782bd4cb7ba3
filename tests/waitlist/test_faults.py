"""Workers and brokers failing mid-flight: nothing lost, nothing doubled."""
import pytest
from celery.contrib.testing.worker import start_worker
from sqlalchemy import func, select, text

from evently.bookings import services as bookings
from evently.bookings.models import Booking
from evently.extensions import db, redis_client
from evently.notifications.models import Notification
from evently.notifications.tasks import sweep_outbox
from evently.seats import gate
from evently.seats.models import SeatHold
from evently.seats.tasks import reconcile_all
from tests import factories
from tests.redis_server import PrivateRedis
from tests.variants import other_app
from tests.waiting import wait_until
from tests.worker_process import WorkerProcess

pytestmark = pytest.mark.worker

VISIBILITY = 3


@pytest.fixture
def broker():
    server = PrivateRedis().start()
    yield server
    server.stop()


@pytest.fixture
def test_app(app, broker):
    """The app with its Celery broker on the private Redis (gate and data stay on the test ones)."""
    from config import TestingConfig

    with other_app(app, CELERY={"broker_url": broker.url, "result_backend": TestingConfig.REDIS_URL},
                   CELERY_VISIBILITY_TIMEOUT=VISIBILITY) as built:
        yield built


def promotions(event_id):
    return db.session.scalars(select(Booking).where(Booking.event_id == event_id, Booking.source == "waitlist")).all()


def test_worker_killed_mid_promotion_promotes_exactly_once_after_restart(test_app, broker, smtp_server):
    env = {"TEST_CELERY_BROKER_URL": broker.url, "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY)}
    paused = WorkerProcess(broker_url=broker.url, extra_env=env, fault=("promotion-pause", 60)).start()
    healthy = WorkerProcess(broker_url=broker.url, extra_env=env)
    try:
        with test_app.app_context():
            event = factories.make_event(capacity=2)
            holder, waiter = factories.make_user(), factories.make_user()
            held = bookings.book_seats(user=holder, event_id=event.id, quantity=2).booking
            bookings.book_seats(user=waiter, event_id=event.id, quantity=2)
            bookings.cancel_booking(actor=holder, booking_id=held.id)  # enqueues the promotion

            # The paused worker has taken the seats in Redis and sleeps before committing.
            wait_until(lambda: [f for f in gate.state(event) if f.startswith("h:promo-")],
                       timeout=30, message="promotion hold taken")
            paused.kill()
            assert promotions(event.id) == []
            assert gate.state(event)["avail"] == "0"

            healthy.start()  # the unacked message comes back after the visibility timeout
            wait_until(lambda: promotions(event.id), timeout=40, message="promotion after restart")
            healthy.settle(VISIBILITY + 2)  # time for any duplicate delivery to show up
            db.session.expire_all()
            promoted = promotions(event.id)
            assert [(b.user_id, b.quantity) for b in promoted] == [(waiter.id, 2)]
            assert db.session.scalar(select(func.count()).select_from(SeatHold).where(
                SeatHold.outcome == "released")) == 0
            state = gate.state(event)
            assert state["avail"] == "0" and not [f for f in state if f.startswith("h:")]
            db.session.remove()
    finally:
        paused.kill()
        healthy.stop()


def test_broker_down_during_cancellation_loses_nothing(app, test_app, broker, smtp_server):
    test_app.config["SMTP_URL"] = smtp_server.url
    with test_app.app_context():
        event = factories.make_event(capacity=1)
        holder = factories.make_user(email="holder@example.com")
        waiter = factories.make_user(email="waiter@example.com")
        booking_id = bookings.book_seats(user=holder, event_id=event.id, quantity=1).booking.id
        bookings.book_seats(user=waiter, event_id=event.id, quantity=1)
        event_id, holder_id = event.id, holder.id
        db.session.remove()

    broker.kill()
    client = test_app.test_client()
    response = client.delete(f"/api/bookings/{booking_id}", headers=_headers(test_app, holder_id))
    assert response.status_code == 200  # the cancellation commits although no task could be sent
    broker.start()  # back, and empty: every task sent before the outage is gone too

    with test_app.app_context():
        db.session.execute(text("UPDATE notifications SET updated_at = now() - interval '1 minute'"))
        db.session.commit()
        assert db.session.scalar(select(Booking.status).where(Booking.id == booking_id)) == "cancelled"
        assert db.session.scalar(select(func.count()).select_from(Notification).where(
            Notification.status == "pending")) == 2
        with start_worker(test_app.extensions["celery"], pool="threads", concurrency=2, perform_ping_check=False,
                          loglevel="WARNING", shutdown_timeout=20):
            # What beat runs: the outbox sweep and the reconcile that re-requests promotions.
            sweep_outbox.run()
            reconcile_all.run()
            wait_until(lambda: promotions(event_id), message="waiter promoted after the outage")
            wait_until(lambda: db.session.scalar(select(func.count()).select_from(Notification).where(
                Notification.status == "pending")) == 0, message="outbox drained")
            sweep_outbox.run()  # a second sweep finds nothing to resend
            wait_until(lambda: smtp_server.messages_with("waiter@example.com"), message="promotion mail")
        cancelled_mails = [m for m in smtp_server.messages_with("holder@example.com") if "cancelled" in m]
        assert len(cancelled_mails) == 1
        assert len(smtp_server.messages_with("holder@example.com")) == 2  # confirmed + cancelled, once each
        assert len(smtp_server.messages_with("waiter@example.com")) == 1
        db.session.remove()
    with app.app_context():
        redis_client.ping()


def _headers(test_app, user_id):
    with test_app.app_context():
        from evently.auth.models import User

        headers = factories.auth_headers(db.session.get(User, user_id))
        db.session.remove()
        return headers
