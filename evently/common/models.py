"""Column helpers shared by every model."""
from datetime import datetime, timezone
from types import SimpleNamespace
from functools import lru_cache

from sqlalchemy import DateTime, func, inspect
from sqlalchemy.orm import Mapped, mapped_column


def utcnow():
    return datetime.now(timezone.utc)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now(), onupdate=func.now()
    )


@lru_cache(maxsize=None)
def mapped_columns(model):
    """(attribute key, column name) of every mapped column of `model`."""
    return tuple((attr.key, attr.columns[0].name) for attr in inspect(model).column_attrs)


def plain_record(model, row, prefix=""):
    """A `model`'s columns from a Core row (named `prefix` + column name) as a plain object with
    those attributes: what an answer is dumped from, for a row the caller will not touch
    through the ORM. Cheaper to build than even a detached instance (no instrumentation)."""
    return SimpleNamespace(**{key: row[prefix + name] for key, name in mapped_columns(model)})


def detached_instance(model, row, prefix=""):
    """A transient `model` instance carrying a Core row's columns (named `prefix` +
    column name): what schemas and services read, without the ORM's identity map
    and loading machinery, which cost more than the query on hot paths. Never added
    to a session, so nothing is written back and no rollback expires it."""
    return model(**{key: row[prefix + name] for key, name in mapped_columns(model)})
