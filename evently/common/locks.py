"""PostgreSQL advisory locks for jobs that must not overlap."""
from contextlib import contextmanager

from sqlalchemy import text

from evently.extensions import db


@contextmanager
def advisory_lock(key):
    """Session-level try-lock on its own connection; yields whether it was acquired."""
    with db.engine.connect() as connection:
        acquired = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar()
        try:
            yield bool(acquired)
        finally:
            if acquired:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
            connection.commit()
