"""PostgreSQL connections killed mid-storm: no partial booking, and the app recovers by itself."""
import threading
import time

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError

from evently.bookings.models import Booking
from evently.extensions import db
from evently.seats.models import SeatHold
from evently.waitlist.models import WaitlistEntry
from tests import factories
from tests.faults.checks import check_converges, check_gate_exact, check_jepsen_bound
from tests.faults.test_redis_faults import storm

pytestmark = pytest.mark.race


def test_terminated_connections_leave_no_partial_booking(app):
    with app.app_context():
        event_id = factories.make_event(capacity=60, max_per_booking=4).id
        user_ids = [user.id for user in factories.make_users(120)]
        db.session.remove()
    quantities = [1 + index % 3 for index in range(120)]
    stop = threading.Event()

    def killer(faulted):
        with app.app_context():
            while not stop.is_set():
                try:
                    with db.engine.connect() as connection:
                        connection.execute(text(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
                        connection.commit()
                    faulted.set()
                except OperationalError:
                    pass  # the killer's own pooled connection was cut by its previous round
                time.sleep(0.03)

    def kill_for_a_while(faulted):
        thread = threading.Thread(target=killer, args=(faulted,))
        thread.start()
        time.sleep(1.5)
        stop.set()
        thread.join(10)

    results, _ = storm(app, event_id, user_ids, quantities, during=kill_for_a_while, workers=10)
    statuses = [status for status, _ in results]
    assert 500 not in statuses and set(statuses) <= {201, 409, 503}, sorted(set(statuses))
    assert 503 in statuses, "the connection kills must have been seen"

    with app.app_context():
        db.engine.dispose()
        check_jepsen_bound(event_id, results, quantities)
        # No partial booking: every committed hold is exactly one booking and/or waitlist entry.
        committed = db.session.scalars(select(SeatHold.hold_id).where(SeatHold.outcome == "committed")).all()
        booked_holds = set(db.session.scalars(select(Booking.hold_id)).all())
        entry_keys = set(db.session.scalars(select(WaitlistEntry.gate_key)).all())
        assert set(committed) == booked_holds | entry_keys
        check_gate_exact(event_id)
        check_converges(event_id)
        # Recovered without a restart: the same app books again.
        user = factories.make_user()
        fresh_event_id = factories.make_event(capacity=5).id
        client = app.test_client()
        response = client.post("/api/bookings", json={"eventId": fresh_event_id, "quantity": 1},
                               headers=factories.auth_headers(user))
        assert response.status_code == 201
        assert db.session.scalar(select(func.count()).select_from(Booking).where(Booking.user_id == user.id)) == 1
        db.session.remove()
