"""Celery tasks for the notification outbox."""
from celery import shared_task

from evently.common.tasks import RETRY_OPTIONS, enqueue

from . import services


@shared_task(name="notifications.deliver", acks_late=True, **RETRY_OPTIONS)
def deliver_notification(notification_id):
    return services.deliver(notification_id=notification_id).outcome


@shared_task(name="notifications.sweep", acks_late=True)
def sweep_outbox():
    """Re-enqueue what is due and not sent: after a broker outage or a failed
    attempt, nothing in the outbox is forgotten."""
    ids = services.due_notifications()
    sent = sum(1 for notification_id in ids if enqueue(deliver_notification, notification_id))
    return {"due": len(ids), "enqueued": sent}
