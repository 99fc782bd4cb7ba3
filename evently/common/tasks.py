"""Sending Celery tasks without letting a broker outage fail the caller."""
import logging

from flask import current_app
from sqlalchemy.exc import OperationalError

from evently.errors import REDIS_UNAVAILABLE

log = logging.getLogger(__name__)

# Worth retrying a task for: a dependency blinked. Retries back off up to
# MAX_COUNTDOWN (20 s), inside the broker's visibility timeout.
TRANSIENT_ERRORS = (*REDIS_UNAVAILABLE, OperationalError)
RETRY_OPTIONS = {"autoretry_for": TRANSIENT_ERRORS, "retry_backoff": True, "retry_backoff_max": 20,
                 "max_retries": 5}

# A dead broker must not hold a web request for long: two quick tries, then give up.
PUBLISH_RETRY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.1, "interval_max": 0.2}


def enqueue(task, *args, **kwargs):
    """Send `task` (a task or its name); returns False (and logs) if the broker is unreachable.
    Callers only enqueue work that PostgreSQL already records, so a periodic sweep finds it again.
    Sending by name lets a service request a task without importing the module that defines it."""
    name = getattr(task, "name", task)
    try:
        # Through this Flask app's Celery (not Celery's process-wide default app). No caller
        # reads a result: without ignore_result, send_task SUBSCRIBEs to the result channel and
        # UNSUBSCRIBEs again (two extra Redis round trips per booking; task_ignore_result only
        # applies to the worker side).
        current_app.extensions["celery"].send_task(name, args=args, kwargs=kwargs, retry=True,
                                                   retry_policy=PUBLISH_RETRY, ignore_result=True)
        return True
    except Exception as error:  # noqa: BLE001 - kombu raises several types for a dead broker
        log.warning("could not enqueue %s: %s", name, error)
        return False


def enqueue_after_commit(task, *args, **kwargs):
    from evently.common.after_commit import on_commit

    on_commit(lambda: enqueue(task, *args, **kwargs))
