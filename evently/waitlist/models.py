"""Waitlist entries and the one definition of the queue's order and of a place in it."""
from decimal import Decimal

from sqlalchemy import (BigInteger, Boolean, CheckConstraint, FetchedValue, ForeignKey, Index, Integer, Numeric,
                        String, func, or_, select, text, tuple_)
from sqlalchemy.orm import Mapped, mapped_column

from evently.common.models import TimestampMixin
from evently.extensions import db

ENTRY_STATUSES = ("waiting", "served", "left", "cancelled", "removed")


class WaitlistEntry(TimestampMixin, db.Model):
    __tablename__ = "waitlist_entries"
    __table_args__ = (
        CheckConstraint("quantity_requested >= 1", name="requested_positive"),
        CheckConstraint("quantity_remaining >= 0 AND quantity_remaining <= quantity_requested",
                        name="remaining_within_requested"),
        CheckConstraint("status IN ('waiting', 'served', 'left', 'cancelled', 'removed')", name="status_known"),
        Index("uq_waitlist_entries_one_active", "event_id", "user_id", unique=True,
              postgresql_where=text("status = 'waiting'")),
        Index("ix_waitlist_entries_queue", "event_id", "queue_seq", "id", postgresql_where=text("status = 'waiting'")),
        Index("ix_waitlist_entries_user", "user_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), nullable=False)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    quantity_requested: Mapped[int] = mapped_column(Integer, nullable=False)
    quantity_remaining: Mapped[int] = mapped_column(Integer, nullable=False)
    allow_partial: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="true")
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default="waiting")
    # The key this entry has in the Redis gate's waiter set (the hold that created it).
    gate_key: Mapped[str] = mapped_column(String(80), nullable=False, unique=True)
    # The entry's place in the queue's order: the seat gate numbers joins as it admits them
    # (evently/seats/lua/take.lua), so the place a join is told is the place it is served in,
    # even when concurrent joins commit (and get their ids) in another order. A number,
    # not an integer, so an entry can be moved between two others. Given none, a trigger
    # puts the entry at the back (migrations/versions/0003_seat_engine.py).
    queue_seq: Mapped[Decimal] = mapped_column(Numeric, nullable=False, server_default=FetchedValue())

    # The entry's live place (1 = next served), set by whoever read it with live_position(); None once not waiting.
    position = None


# First served first: the gate's numbering, ties (a gate rebuilt while a join was in flight) by id.
QUEUE_ORDER = (WaitlistEntry.queue_seq, WaitlistEntry.id)


def live_position():
    """An entry's 1-based place among its event's waiting entries in QUEUE_ORDER, as a column
    correlated to WaitlistEntry: the one definition every reader of a position uses."""
    ahead = WaitlistEntry.__table__.alias("ahead")
    return (
        select(func.count())
        .where(ahead.c.event_id == WaitlistEntry.event_id, ahead.c.status == "waiting",
               tuple_(ahead.c.queue_seq, ahead.c.id) <= tuple_(*QUEUE_ORDER))
        .correlate(WaitlistEntry)
        .scalar_subquery()
    )


def queue_rank():
    """The same place as live_position(), as a window over one event's waiting entries: what
    a reader of a whole page of the queue uses (counting per entry would be O(page x queue))."""
    return func.row_number().over(partition_by=WaitlistEntry.event_id, order_by=QUEUE_ORDER)


def fits(free):
    """Entries that could take some of `free` seats now: those that take part of their seats, and
    all-or-nothing ones that want no more than `free`. The rule the gate applies in lua/queue.lua."""
    return or_(WaitlistEntry.allow_partial, WaitlistEntry.quantity_remaining <= free)
