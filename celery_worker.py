"""Builds the app once and exposes `celery` for the worker, beat and Flower:
`celery -A celery_worker.celery worker`."""
import atexit

from evently.ops import multiproc

# Chosen before the app, and with it prometheus_client, is imported: a worker's
# pool processes inherit the directory and each scrape sums their files.
atexit.register(multiproc.cleanup, multiproc.prepare("celery"))

from evently import create_app  # noqa: E402

app = create_app()
celery = app.extensions["celery"]
