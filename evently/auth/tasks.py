"""Periodic account housekeeping (Celery beat)."""
from celery import shared_task

from . import services


@shared_task(name="auth.prune", acks_late=True)
def prune():
    """Drop sessions, reset tokens and throttle windows that can no longer matter."""
    return services.prune_expired()
