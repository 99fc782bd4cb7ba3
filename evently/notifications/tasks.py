"""Celery tasks for the notification outbox."""
from collections import Counter

from celery import shared_task

from evently.common.tasks import RETRY_OPTIONS, enqueue

from . import services

BATCH_SIZE = 200


@shared_task(name="notifications.deliver", acks_late=True, **RETRY_OPTIONS)
def deliver_notification(notification_id):
    """One row. Kept for messages sent before batches existed (a rolling deploy)."""
    return services.deliver(notification_id=notification_id).outcome


@shared_task(name="notifications.deliver_batch", acks_late=True, **RETRY_OPTIONS)
def deliver_batch(notification_ids):
    """Each row in its own transaction, as `deliver_notification` would. A retry
    (or a redelivery after a worker died) repeats the batch: rows already sent
    are skipped, so nothing is sent twice."""
    return dict(Counter(services.deliver(notification_id=notification_id).outcome
                        for notification_id in notification_ids))


def enqueue_deliveries(notification_ids):
    """Send `deliver_batch` tasks for the ids, BATCH_SIZE per task; returns how many
    ids reached the broker (enqueue logs a failed send, and the sweep retries those)."""
    batches = [notification_ids[start:start + BATCH_SIZE] for start in range(0, len(notification_ids), BATCH_SIZE)]
    return sum(len(batch) for batch in batches if enqueue(deliver_batch, batch))


@shared_task(name="notifications.sweep", acks_late=True)
def sweep_outbox():
    """Re-enqueue what is due and not sent: after a broker outage or a failed
    attempt, nothing in the outbox is forgotten."""
    ids = services.due_notifications()
    return {"due": len(ids), "enqueued": enqueue_deliveries(ids)}
