"""Celery tasks for the event lifecycle."""
from celery import shared_task

from evently.common.tasks import RETRY_OPTIONS, enqueue

from . import cancellation


@shared_task(name="events.cancel_event", acks_late=True, **RETRY_OPTIONS)
def cancel_event_task(job_id):
    """One batch per run, then re-enqueue: each run stays far inside the visibility timeout."""
    job = cancellation.run_batch(job_id=job_id)
    if job is not None and job.status != "done":
        enqueue(cancel_event_task, job_id)
    return {"jobId": job_id, "status": job.status if job else "missing", "done": job.done if job else 0}


@shared_task(name="events.resume_cancellations", acks_late=True)
def resume_cancellations():
    """Beat: pick up cancellation jobs whose task was lost."""
    ids = cancellation.stalled_jobs()
    for job_id in ids:
        enqueue(cancel_event_task, job_id)
    return {"resumed": len(ids)}
