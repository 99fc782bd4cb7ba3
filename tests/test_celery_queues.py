"""Celery queues come from config: each stack has its own, and beat's jobs have their own worker.

Two stacks on one Redis DB used to share the `evently` queue, so each took the
other's tasks (ids of rows in the wrong database). The queue is now named after
the stack's database (CELERY_QUEUE overrides it), beat's periodic maintenance
goes to "<queue>.maintenance", and a worker started with `--maintenance` takes
only that queue.
"""
import json
from datetime import timedelta

import pytest
from flask import current_app

from config import TestingConfig, queue_for
from evently.celery_app import MAINTENANCE_TASKS, beat_schedule, maintenance_queue
from evently.common.models import utcnow
from evently.common.tasks import enqueue
from evently.extensions import db, redis_client
from evently.notifications import tasks as notification_tasks
from evently.notifications.models import Notification
from evently.seats.tasks import promote_waitlist_task
from tests import factories
from tests.variants import other_app
from tests.waiting import wait_until
from tests.worker_process import WorkerProcess

pytestmark = pytest.mark.worker


def queued_tasks(queue):
    return [json.loads(raw)["headers"]["task"] for raw in redis_client.lrange(queue, 0, -1)]


@pytest.mark.parametrize("url, queue", [
    ("postgresql://postgres@127.0.0.1:5432/evently", "evently"),
    ("postgresql+psycopg2://u:p@db.example:6543/evently_h19?sslmode=require", "evently_h19"),
    ("postgresql://postgres@127.0.0.1:5432/", "evently"),
])
def test_the_queue_is_named_after_the_database(url, queue):
    assert queue_for(url) == queue


def test_the_app_sends_to_its_queue_and_beat_to_the_maintenance_queue(app):
    celery = app.extensions["celery"]
    queue = app.config["CELERY_QUEUE"]

    assert queue == TestingConfig.SQLALCHEMY_DATABASE_URI.rsplit("/", 1)[1]
    assert celery.conf.task_default_queue == queue
    assert {task["task"] for task in beat_schedule(app.config).values()} == set(MAINTENANCE_TASKS)
    for name in MAINTENANCE_TASKS:
        assert celery.amqp.router.route({}, name)["queue"].name == maintenance_queue(queue), name
    assert celery.amqp.router.route({}, "waitlist.promote")["queue"].name == queue
    # Monitoring is per stack too: control commands and events stay within it.
    assert celery.conf.control_exchange == queue
    assert celery.conf.event_exchange == f"{queue}.events"
    # One beat locks its schedule file: each stack has its own.
    assert celery.conf.beat_schedule_filename.endswith(f"evently-celerybeat-{queue}")


def test_a_second_stack_on_the_same_redis_db_gets_its_own_queue(app, app_ctx):
    """What config.py derives for a stack whose DATABASE_URL names evently_other."""
    with other_app(app, CELERY_QUEUE=queue_for("postgresql://postgres@127.0.0.1:5432/evently_other")) as other:
        with other.app_context():
            assert enqueue(promote_waitlist_task, 999_001, None)
    assert enqueue(promote_waitlist_task, 999_002, None)

    assert queued_tasks("evently_other") == ["waitlist.promote"]
    assert queued_tasks(app.config["CELERY_QUEUE"]) == ["waitlist.promote"]


def test_a_worker_never_takes_another_stacks_task(app, app_ctx):
    """A real worker of this stack runs beside a task sent by another stack on the
    same Redis DB: it runs this stack's task and leaves the other's alone."""
    with other_app(app, CELERY_QUEUE="another_stack") as other, other.app_context():
        assert enqueue(notification_tasks.sweep_outbox)  # routed to another_stack.maintenance
        assert enqueue(promote_waitlist_task, 999_003, None)
    worker = WorkerProcess(broker_url=current_app.config["CELERY"]["broker_url"]).start()
    try:
        assert enqueue(promote_waitlist_task, 999_004, None)
        wait_until(lambda: redis_client.llen(app.config["CELERY_QUEUE"]) == 0, timeout=30,
                   message="this stack's worker took its task")
        worker.settle(1)
        assert queued_tasks("another_stack") == ["waitlist.promote"]
        assert queued_tasks("another_stack.maintenance") == ["notifications.sweep"]
    finally:
        worker.stop()


def test_beat_jobs_go_to_the_maintenance_worker_only(app, app_ctx):
    """`--maintenance` takes beat's jobs and no bookings' task; the default worker the reverse."""
    queue = app.config["CELERY_QUEUE"]
    user = factories.make_user()
    row = Notification(user_id=user.id, kind="booking_confirmed", dedupe_key="queues:1", subject="s", body="b",
                       status="pending", next_attempt_at=utcnow() - timedelta(minutes=1))
    db.session.add(row)
    db.session.commit()
    row.updated_at = utcnow() - timedelta(minutes=1)  # due for the sweep
    db.session.commit()
    broker = current_app.config["CELERY"]["broker_url"]

    maintenance = WorkerProcess(broker_url=broker, extra_args=["--maintenance"]).start()
    try:
        assert enqueue(promote_waitlist_task, 999_005, None)  # a bookings' task: not for this worker
        assert enqueue(notification_tasks.sweep_outbox)
        # The sweep ran: it sent the due row's delivery to the bookings' queue.
        wait_until(lambda: "notifications.deliver_batch" in queued_tasks(queue), timeout=30,
                   message="the maintenance worker ran the sweep")
        assert redis_client.llen(maintenance_queue(queue)) == 0
        assert sorted(queued_tasks(queue)) == ["notifications.deliver_batch", "waitlist.promote"]
    finally:
        maintenance.stop()

    bookings_worker = WorkerProcess(broker_url=broker).start()
    try:
        assert enqueue(notification_tasks.sweep_outbox)
        wait_until(lambda: redis_client.llen(queue) == 0, timeout=30, message="the bookings' worker took its tasks")
        wait_until(lambda: db.session.get(Notification, row.id).status == "sent", message="the delivery ran")
        assert queued_tasks(maintenance_queue(queue)) == ["notifications.sweep"]
    finally:
        bookings_worker.stop()
