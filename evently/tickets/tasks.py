"""Periodic ticket work (Celery beat): reminders before events."""
from celery import shared_task

from evently.common.tasks import RETRY_OPTIONS

from . import reminders


@shared_task(name="tickets.send_reminders", acks_late=True, **RETRY_OPTIONS)
def send_reminders():
    """The reminders due before events starting within REMINDER_LEAD_HOURS (exactly once each)."""
    return reminders.send_reminders()
