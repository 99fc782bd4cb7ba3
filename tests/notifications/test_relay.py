"""The relay: committed notifications reach Celery in batches, and ids that never do are swept."""
import base64
import json
from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from evently.bookings import services as bookings
from evently.common.models import utcnow
from evently.extensions import db, redis_client
from evently.notifications import relay, tasks
from evently.notifications.models import Notification
from tests import factories
from tests.variants import DEAD_REDIS, other_app
from tests.waiting import wait_until


def queued_batches():
    """The `notifications.deliver_batch` tasks waiting in the broker's queue, as lists of ids."""
    batches = []
    for raw in redis_client.lrange(current_app.config["CELERY_QUEUE"], 0, -1):
        message = json.loads(raw)
        if message["headers"]["task"] == "notifications.deliver_batch":
            args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
            batches.append(args[0])
    return batches


def notification_ids():
    return db.session.scalars(select(Notification.id).order_by(Notification.id)).all()


def book_one_each(event, buyers):
    for buyer in buyers:
        bookings.book_seats(user=buyer, event_id=event.id, quantity=1)


def test_a_burst_of_commits_reaches_celery_in_fewer_tasks_than_rows(app, app_ctx, monkeypatch):
    # A linger wide enough for the ten commits below to share a batch even on a slow machine.
    monkeypatch.setitem(app.extensions, relay.EXTENSION, relay.Relay(app, linger=1.0))
    event = factories.make_event(capacity=20)
    book_one_each(event, [factories.make_user() for _ in range(10)])
    ids = notification_ids()
    assert len(ids) == 10

    wait_until(lambda: sorted(sum(queued_batches(), [])) == ids, message="every id queued for delivery")
    assert len(queued_batches()) < len(ids)


def test_ids_that_never_reach_the_broker_are_left_to_the_sweep(app, app_ctx):
    event = factories.make_event(capacity=5)
    book_one_each(event, [factories.make_user()])
    [row_id] = notification_ids()
    with other_app(app, CELERY={"broker_url": DEAD_REDIS, "result_backend": DEAD_REDIS}) as broker_down:
        stranded = relay.Relay(broker_down, linger=60)  # its thread waits; the test flushes by hand
        stranded.submit(row_id)
        assert stranded.flush() == 0

    row = db.session.get(Notification, row_id)
    assert row.status == "pending"
    row.updated_at = utcnow() - timedelta(minutes=1)  # past the sweep's grace for fresh rows
    db.session.commit()
    redis_client.delete(current_app.config["CELERY_QUEUE"])
    assert tasks.sweep_outbox() == {"due": 1, "enqueued": 1}
    assert queued_batches() == [[row_id]]


def test_a_repeated_batch_sends_each_row_once(app_ctx, smtp_server):
    event = factories.make_event(capacity=5)
    buyers = [factories.make_user(email=f"buyer{n}@example.com") for n in range(2)]
    book_one_each(event, buyers)
    ids = notification_ids()

    assert tasks.deliver_batch(ids) == {"sent": 2}
    assert tasks.deliver_batch(ids) == {"already_sent": 2}  # a retry or a redelivery of the same task
    assert [len(smtp_server.messages_with(buyer.email)) for buyer in buyers] == [1, 1]


def test_a_booking_confirmation_reaches_the_mailbox_through_a_real_worker(client, app_ctx, celery_worker,
                                                                         smtp_server, user, user_headers):
    event = factories.make_event(capacity=5)
    response = client.post("/api/bookings", json={"eventId": event.id, "quantity": 2}, headers=user_headers)
    assert response.status_code == 201

    wait_until(lambda: smtp_server.messages_with(user.email), message="confirmation mail sent")
    reference = response.get_json()["data"]["booking"]["bookingReference"]
    assert f"Booking {reference} confirmed" in smtp_server.messages_with(user.email)[0]
    wait_until(lambda: db.session.scalar(select(Notification.status)) == "sent", message="outbox row marked sent")
