"""Waitlist entries: FIFO by id, partly servable, one active entry per user and event."""
from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, func, select, text
from sqlalchemy.orm import Mapped, mapped_column

from evently.common.models import TimestampMixin
from evently.extensions import db

ENTRY_STATUSES = ("waiting", "served", "left", "cancelled")


class WaitlistEntry(TimestampMixin, db.Model):
    __tablename__ = "waitlist_entries"
    __table_args__ = (
        CheckConstraint("quantity_requested >= 1", name="requested_positive"),
        CheckConstraint("quantity_remaining >= 0 AND quantity_remaining <= quantity_requested",
                        name="remaining_within_requested"),
        CheckConstraint("status IN ('waiting', 'served', 'left', 'cancelled')", name="status_known"),
        Index("uq_waitlist_entries_one_active", "event_id", "user_id", unique=True,
              postgresql_where=text("status = 'waiting'")),
        Index("ix_waitlist_entries_queue", "event_id", "id", postgresql_where=text("status = 'waiting'")),
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


def live_position():
    """An entry's 1-based place among its event's waiting entries (FIFO by id), as a
    column correlated to WaitlistEntry. The place a join is told comes from the gate
    instead (evently/seats/lua/take.lua), which numbers joins without counting."""
    ahead = WaitlistEntry.__table__.alias("ahead")
    return (
        select(func.count())
        .where(ahead.c.event_id == WaitlistEntry.event_id, ahead.c.status == "waiting", ahead.c.id <= WaitlistEntry.id)
        .correlate(WaitlistEntry)
        .scalar_subquery()
    )
