"""Celery task: serve an event's waitlist."""
from celery import shared_task

from evently.common.tasks import enqueue

from . import promotion


@shared_task(name="waitlist.promote", bind=True, acks_late=True, max_retries=5,
             autoretry_for=(ConnectionError,), retry_backoff=True, retry_backoff_max=20)
def promote_waitlist_task(self, event_id, seats_freed_at=None):
    report = promotion.promote_waitlist(event_id=event_id, seats_freed_at=seats_freed_at)
    if report.more:  # keep each run short (well inside the broker's visibility timeout)
        enqueue(promote_waitlist_task, event_id, seats_freed_at)
    return report.as_dict()
