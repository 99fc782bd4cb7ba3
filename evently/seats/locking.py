"""The event row lock: the one place that serialises every change of an event's seats.

Everything that changes seats or the queue commits a write to the event row
(booked_seats) or inserts a row whose foreign key takes a share lock on it, so
whoever holds this lock sees no seat or queue change commit until it is done.
Lock order everywhere: the event row first, then booking or entry rows.
"""
from sqlalchemy import select

from evently.events.models import Event
from evently.extensions import db


def lock_event(event_id):
    """The event, locked FOR UPDATE until the transaction ends and read fresh; None if it does not exist."""
    return db.session.execute(
        select(Event).where(Event.id == event_id).with_for_update().execution_options(populate_existing=True)
    ).scalar_one_or_none()
