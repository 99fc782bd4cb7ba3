"""Bookings and the idempotency records of booking requests."""
from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, Integer, Numeric, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from evently.common.models import TimestampMixin
from evently.extensions import db


class Booking(TimestampMixin, db.Model):
    __tablename__ = "bookings"
    __table_args__ = (
        CheckConstraint("quantity >= 1", name="quantity_positive"),
        CheckConstraint("cancelled_quantity >= 0", name="cancelled_quantity_non_negative"),
        CheckConstraint("status <> 'cancelled' OR cancelled_quantity > 0", name="cancelled_gave_seats_back"),
        CheckConstraint("status IN ('confirmed', 'cancelled')", name="status_known"),
        CheckConstraint("source IN ('direct', 'waitlist')", name="source_known"),
        Index("ix_bookings_user_created", "user_id", "created_at"),
        Index("ix_bookings_event_status", "event_id", "status"),
        Index("ix_bookings_created_at", "created_at"),
    )
    # INSERT ... RETURNING the server defaults (created_at, status, ...), so a new
    # booking can be answered without reading it back after commit.
    __mapper_args__ = {"eager_defaults": True}

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), nullable=False, unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), nullable=False)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="RESTRICT"), nullable=False)
    # Seats the booking holds (while confirmed; once cancelled, the seats it held then).
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    # Seats given back so far, by partial cancellations and the final one.
    cancelled_quantity: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    unit_price: Mapped[Decimal] = mapped_column(Numeric(12, 2), nullable=False)
    total_amount: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default="confirmed")
    source: Mapped[str] = mapped_column(String(16), nullable=False, server_default="direct")
    # The seat hold this booking consumed: unique, so one hold never becomes two bookings.
    hold_id: Mapped[str | None] = mapped_column(String(80), unique=True)
    waitlist_entry_id: Mapped[int | None] = mapped_column(ForeignKey("waitlist_entries.id", ondelete="SET NULL"))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # For waitlist promotions: when the seats it received were freed (analytics: time to promotion).
    seats_freed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    # Read-only: what a booking's history shows of its event (loaded with the booking where shown).
    event = relationship("Event", viewonly=True)

    def visible_to(self, user):
        """Its owner and admins see a booking; to anyone else it does not exist (a 404, never a 403)."""
        return self.user_id == user.id or user.is_admin


class IdempotencyRecord(db.Model):
    __tablename__ = "idempotency_records"
    __table_args__ = (CheckConstraint("state IN ('in_progress', 'done')", name="state_known"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False, server_default="in_progress")
    # The execution that holds the key now: its outcome is recorded only while it still does,
    # so an execution whose key was taken over (it looked dead) can never record a second outcome.
    execution_id: Mapped[str | None] = mapped_column(String(40))
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[dict | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now(), index=True
    )
