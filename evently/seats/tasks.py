"""Periodic seat-gate reconciliation (Celery beat)."""
from celery import shared_task

from evently.common.locks import advisory_lock

from . import reconcile

RECONCILE_LOCK = 7_001


@shared_task(name="seats.reconcile_all", acks_late=True, ignore_result=False)
def reconcile_all():
    """Correct drift on every active event; overlapping runs skip (advisory lock)."""
    with advisory_lock(RECONCILE_LOCK) as acquired:
        if not acquired:
            return {"skipped": True}
        return reconcile.reconcile_all().as_dict()
