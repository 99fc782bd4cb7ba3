"""A gunicorn worker SIGKILLed between the Redis take and the PostgreSQL commit:
the seats come back exactly once, and the server keeps serving. One SIGKILLed
after its commit, with the confirmation's id still in its relay: the sweep mails it."""
import http.client
import json
import os
import signal
import subprocess
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from evently.bookings.models import Booking
from evently.common.models import utcnow
from evently.extensions import db
from evently.notifications import tasks
from evently.notifications.models import Notification
from evently.seats import gate, reconcile
from tests import factories, patched
from tests.redis_server import free_port
from tests.waiting import wait_until

pytestmark = pytest.mark.race
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def gunicorn_server(app):
    port = free_port()
    # A committed confirmation stays in the worker's relay for a minute: long enough to die with it.
    env = dict(os.environ, EVENTLY_ENV="testing", PORT=str(port), WEB_CONCURRENCY="1",
               NOTIFICATION_RELAY_LINGER_MS="60000")
    process = subprocess.Popen(patched.command("booking-pause", 2, "gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"),
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                break
        except OSError:
            time.sleep(0.2)
        finally:
            connection.close()
    yield process, port
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(20)


def post_booking(port, token, event_id, quantity, outcome):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("POST", "/api/bookings", body=json.dumps({"eventId": event_id, "quantity": quantity}),
                           headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
        response = connection.getresponse()
        outcome["status"] = response.status
    except (OSError, http.client.HTTPException) as error:
        outcome["error"] = error
    finally:
        connection.close()


def worker_pids(master_pid):
    output = subprocess.run(["pgrep", "-P", str(master_pid)], capture_output=True, text=True).stdout
    return [int(pid) for pid in output.split()]


def test_worker_killed_between_take_and_commit_returns_the_seats_once(app_ctx, gunicorn_server):
    process, port = gunicorn_server
    event = factories.make_event(capacity=10)
    token = factories.auth_headers(factories.make_user())["Authorization"].split()[1]
    outcome = {}
    request = threading.Thread(target=post_booking, args=(port, token, event.id, 4, outcome))
    request.start()
    wait_until(lambda: gate.holds(event), message="seats taken in Redis")
    for pid in worker_pids(process.pid):
        os.kill(pid, signal.SIGKILL)  # mid-request: after the take, before the commit
    request.join(30)
    assert "status" not in outcome  # the client never got an answer

    assert db.session.scalar(select(func.count()).select_from(Booking)) == 0
    assert int(gate.state(event)["avail"]) == 6  # held by the dead request
    report = reconcile.reconcile_event(event_id=event.id, ttl_seconds=-1)
    assert (report.reaped_holds, report.reaped_seats) == (1, 4)
    assert int(gate.state(event)["avail"]) == 10
    again = reconcile.reconcile_event(event_id=event.id, ttl_seconds=-1)
    assert again.reaped_holds == 0 and int(gate.state(event)["avail"]) == 10

    # The master replaced the worker; the service keeps booking.
    second = {}
    post_booking(port, token, event.id, 3, second)
    assert second.get("status") == 201
    db.session.expire_all()
    assert db.session.scalar(select(func.sum(Booking.quantity))) == 3


def test_worker_killed_with_a_confirmation_in_its_relay_still_mails_it(app_ctx, gunicorn_server, celery_worker,
                                                                       smtp_server):
    process, port = gunicorn_server
    event = factories.make_event(capacity=10)
    token = factories.auth_headers(factories.make_user(email="buyer@example.com"))["Authorization"].split()[1]
    outcome = {}
    post_booking(port, token, event.id, 2, outcome)
    assert outcome.get("status") == 201  # committed; the confirmation's id waits in the worker's relay
    for pid in worker_pids(process.pid):
        os.kill(pid, signal.SIGKILL)

    time.sleep(1)  # a live Celery worker would have delivered by now, had anything been sent
    row = db.session.scalar(select(Notification))
    assert (row.kind, row.status) == ("booking_confirmed", "pending")
    assert smtp_server.messages_with("buyer@example.com") == []

    row.updated_at = utcnow() - timedelta(minutes=1)  # past the sweep's grace for fresh rows
    db.session.commit()
    assert tasks.sweep_outbox() == {"due": 1, "enqueued": 1}
    wait_until(lambda: smtp_server.messages_with("buyer@example.com"), message="the swept confirmation mailed")
    wait_until(lambda: db.session.scalar(select(Notification.status)) == "sent", message="outbox row marked sent")
    assert len(smtp_server.messages_with("buyer@example.com")) == 1
