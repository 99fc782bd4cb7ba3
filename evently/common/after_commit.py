"""Run callbacks (enqueueing Celery tasks) only after the current transaction commits.

A task sent before commit could run before its rows exist, or for rows that
are then rolled back; what must not be lost is written to PostgreSQL in the
transaction itself (outbox rows, job rows) and found again by periodic sweeps.
"""
import logging

from sqlalchemy import event
from sqlalchemy.orm import Session

from evently.extensions import db

log = logging.getLogger(__name__)
KEY = "evently_after_commit"


def on_commit(callback):
    db.session().info.setdefault(KEY, []).append(callback)


@event.listens_for(Session, "after_commit")
def _run_callbacks(session):
    callbacks = session.info.pop(KEY, [])
    for callback in callbacks:
        try:
            callback()
        except Exception:  # noqa: BLE001 - the committed work is safe; sweeps retry what this missed
            log.exception("after-commit callback failed")


@event.listens_for(Session, "after_rollback")
def _drop_callbacks(session):
    session.info.pop(KEY, None)
