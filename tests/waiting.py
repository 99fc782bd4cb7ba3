"""Polling helpers for effects produced by real workers."""
import time

from evently.extensions import db


def wait_until(predicate, timeout=20, interval=0.1, message="condition not reached"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.rollback()
        db.session.expire_all()
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"{message} within {timeout}s")
