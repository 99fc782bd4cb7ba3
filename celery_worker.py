"""Builds the app once and exposes `celery` for the worker, beat and Flower:
`celery -A celery_worker.celery worker`."""
from evently import create_app

app = create_app()
celery = app.extensions["celery"]
