"""Events: capacity, the booked-seat counter that PostgreSQL guards, and the gate's incarnation."""
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (BigInteger, Boolean, CheckConstraint, DateTime, ForeignKey, Index, Integer, Numeric, String,
                        Text, text)
from sqlalchemy.orm import Mapped, mapped_column

from evently.common.models import TimestampMixin
from evently.extensions import db

EVENT_STATUSES = ("draft", "published", "cancelled")


class Event(TimestampMixin, db.Model):
    __tablename__ = "events"
    __table_args__ = (
        # The last line of defence against overselling, whatever Redis says.
        CheckConstraint("booked_seats >= 0 AND booked_seats <= capacity", name="booked_within_capacity"),
        CheckConstraint("capacity >= 0", name="capacity_non_negative"),
        CheckConstraint("price >= 0", name="price_non_negative"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("max_per_booking >= 1", name="max_per_booking_positive"),
        CheckConstraint("max_per_user IS NULL OR max_per_user >= 1", name="max_per_user_positive"),
        CheckConstraint("status IN ('draft', 'published', 'cancelled')", name="status_known"),
        Index("ix_events_status_starts_at", "status", "starts_at"),
        Index("ix_events_venue_lower", text("lower(venue)")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    venue: Mapped[str] = mapped_column(String(200), nullable=False)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    capacity: Mapped[int] = mapped_column(Integer, nullable=False)
    booked_seats: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    price: Mapped[Decimal] = mapped_column(Numeric(12, 2), nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False, server_default="USD")
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default="draft")
    max_per_booking: Mapped[int] = mapped_column(Integer, nullable=False, server_default="10")
    # The most seats one user may hold and wait for at once (confirmed plus waiting); None: no cap.
    max_per_user: Mapped[int | None] = mapped_column(Integer)
    # While paused, free seats are held for the queue and nobody is promoted (an organiser's hand).
    waitlist_paused: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    # Raised by every admin change of the event (never by bookings): a booking decided on a copy
    # of the event commits only if the event is still at that revision (evently/seats/writer.py).
    revision: Mapped[int] = mapped_column(Integer, nullable=False, server_default="1")
    # IANA name: the API speaks UTC, mails, calendar files and reminders the event's local time.
    timezone: Mapped[str] = mapped_column(String(64), nullable=False, server_default="UTC")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # This event's incarnation: its Redis seat gate is keyed by it (evently/seats/gate.py), so a gate
    # left in Redis by another database, or by an earlier event with the same id, is never used.
    gate_token: Mapped[str] = mapped_column(String(32), nullable=False,
                                            server_default=text("replace(gen_random_uuid()::text, '-', '')"))
