"""Transaction helpers every service uses: one public call, one transaction; which constraint a write hit."""
from contextlib import contextmanager

from evently.extensions import db


@contextmanager
def transaction():
    """Commit on success, roll back on any error: one public service call, one transaction."""
    try:
        yield db.session
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise


def constraint_name(error):
    """The name of the constraint an IntegrityError violated (None if PostgreSQL did not say)."""
    return getattr(getattr(error.orig, "diag", None), "constraint_name", None)
