"""Writing audit entries inside the caller's transaction, so a change and its record commit together."""
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from evently.common.fields import utc_timestamp
from evently.extensions import db

from .models import AuditEntry


@dataclass(frozen=True)
class Auditor:
    """Who acts, and why: handed to every change an admin makes, which records itself through it."""

    actor_id: int
    reason: str | None = None

    def record(self, *, action, subject_type, subject_id, event_id, before=None, after=None):
        """Add one entry to the current transaction (never commits)."""
        db.session.add(AuditEntry(actor_id=self.actor_id, event_id=event_id, action=action,
                                  subject_type=subject_type, subject_id=subject_id,
                                  before=_plain(before), after=_plain(after), reason=self.reason))


def snapshot(row, fields):
    """The named fields of a row as JSON-ready values (what an entry keeps of before and after)."""
    return {field: getattr(row, field) for field in fields}


def _plain(values):
    if values is None:
        return None
    return {key: utc_timestamp(value) if isinstance(value, datetime) else str(value) if isinstance(value, Decimal) else value
            for key, value in values.items()}
