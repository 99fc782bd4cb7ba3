"""Periodic analytics rollup (Celery beat)."""
from celery import shared_task

from . import rollup as rollups


@shared_task(name="analytics.rollup", acks_late=True, ignore_result=False)
def rollup(full=False):
    """Refresh the rollup tables; an overlapping run skips (advisory lock). Safe to run twice."""
    return rollups.run_rollup(full=full).as_dict()
