"""Reading the audit log."""
from sqlalchemy import func, select

from evently.auth.models import User
from evently.errors import NotFound
from evently.events.models import Event
from evently.extensions import db

from .models import AuditEntry


def event_log(*, event_id, page, per_page):
    """An event's audit entries, newest first, with who made each change (the event may be deleted:
    its log stays). Raises NotFound for an event that has neither a row nor a log."""
    where = AuditEntry.event_id == event_id
    total = db.session.scalar(select(func.count()).select_from(AuditEntry).where(where))
    if total == 0 and db.session.get(Event, event_id) is None:
        raise NotFound("Event not found.")
    rows = db.session.execute(
        select(AuditEntry, User.name).outerjoin(User, User.id == AuditEntry.actor_id).where(where)
        .order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc()).limit(per_page).offset((page - 1) * per_page)
    ).all()
    entries = []
    for entry, actor_name in rows:
        entry.actor_name = actor_name
        entries.append(entry)
    return entries, total
