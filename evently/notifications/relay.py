"""Hands committed outbox rows to Celery in batches, off the request's path.

Publishing one Celery message per notification after each commit cost the
request ~1 ms of CPU (kombu builds a message and a Redis client per publish)
and gave the worker one task per notification to receive, trace and ack. In a
flash sale that is one task per booking. Here the request only appends the
row's id; a background thread per process waits a moment for more ids to
gather, then sends one `notifications.deliver_batch` task per batch.

Nothing here is the delivery guarantee. The rows were committed in PostgreSQL
before their ids arrive, and the periodic sweep (`notifications.sweep`)
delivers every pending row whose id never made it to the broker: the process
died before its flush, or the broker was down.
"""
from evently.common.batcher import Batcher

EXTENSION = "evently.relay"


def init_app(app):
    app.extensions[EXTENSION] = Relay(app, linger=app.config["NOTIFICATION_RELAY_LINGER_MS"] / 1000)


def submit(app, notification_id):
    """Queue a committed row's id for delivery (called from after-commit hooks)."""
    app.extensions[EXTENSION].submit(notification_id)


class Relay(Batcher):
    """One per app and process: the ids of committed notifications, sent as delivery tasks."""

    name = "evently-notification-relay"

    def send(self, ids):
        from evently.notifications.tasks import enqueue_deliveries

        return enqueue_deliveries(ids)
