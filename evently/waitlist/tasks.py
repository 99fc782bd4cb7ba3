"""Celery task: serve an event's waitlist."""
from celery import shared_task

from evently.common.tasks import RETRY_OPTIONS, enqueue

from . import promotion


@shared_task(name="waitlist.promote", acks_late=True, **RETRY_OPTIONS)
def promote_waitlist_task(event_id, seats_freed_at=None):
    report = promotion.promote_waitlist(event_id=event_id, seats_freed_at=seats_freed_at)
    if report.more:  # keep each run short (well inside the broker's visibility timeout)
        enqueue(promote_waitlist_task, event_id, seats_freed_at)
    return report.as_dict()
