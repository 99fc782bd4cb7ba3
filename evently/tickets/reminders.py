"""Reminders before an event: one per confirmed booking, REMINDER_LEAD_HOURS before the start.

Beat runs `send_reminders` every REMINDER_INTERVAL_SECONDS; each run writes the reminders
still missing for every published event that starts within the lead time. The outbox's
dedupe key makes each reminder exactly once however often beat fires (twice after a
restart, or two runs at once); a cancelled booking gets none, and a booking made inside
the lead time gets its reminder at the next run.
"""
from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from evently.common.models import utcnow
from evently.events.models import Event
from evently.extensions import db
from evently.notifications import outbox

BATCH = 1000
MAX_BATCHES_PER_RUN = 20  # what is left waits for the next run, inside the task's time limit


def send_reminders():
    """Write the missing reminders of events starting within the lead time; returns a summary."""
    now = utcnow()
    lead = timedelta(hours=current_app.config["REMINDER_LEAD_HOURS"])
    events = db.session.scalars(select(Event).where(Event.status == "published", Event.starts_at > now,
                                                    Event.starts_at <= now + lead).order_by(Event.starts_at)).all()
    written = batches = 0
    for event in events:
        while batches < MAX_BATCHES_PER_RUN:
            batches += 1
            count = outbox.event_reminders(event, limit=BATCH)
            db.session.commit()
            written += count
            if count < BATCH:
                break
    db.session.rollback()
    return {"events": len(events), "reminders": written, "more": batches >= MAX_BATCHES_PER_RUN}
