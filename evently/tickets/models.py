"""Tickets (one per confirmed seat) and check-ins at the door."""
from datetime import datetime

from sqlalchemy import (BigInteger, CheckConstraint, DateTime, ForeignKey, Index, Integer, String, UniqueConstraint,
                        func, text)
from sqlalchemy.orm import Mapped, mapped_column

from evently.extensions import db

TICKET_STATUSES = ("valid", "void")


class Ticket(db.Model):
    """One seat of a booking. Written by the seat engine's one statement together with its
    booking (evently/seats/writer.py), voided in the transaction that gives its seat back.
    Its code is not stored: it is the event key's signature over the ticket's fields, which
    Ed25519 makes deterministic, so it is derived whenever it is shown (evently/tickets/codes.py)."""

    __tablename__ = "tickets"
    __table_args__ = (
        CheckConstraint("seat_index >= 1", name="seat_index_positive"),
        CheckConstraint("status IN ('valid', 'void')", name="status_known"),
        CheckConstraint("(status = 'void') = (voided_at IS NOT NULL)", name="voided_when_void"),
        UniqueConstraint("booking_id", "seat_index", name="uq_tickets_booking_seat"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"), nullable=False)
    event_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    # 1..n within its booking, as booked; a partial cancellation voids the highest ones first.
    seat_index: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(String(8), nullable=False, server_default="valid")
    voided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


class CheckIn(db.Model):
    """A scan that admitted a ticket. At most one live (not undone) row per ticket: the partial
    unique index is what lets exactly one of two scanners racing on one code through."""

    __tablename__ = "checkins"
    __table_args__ = (
        Index("uq_checkins_live_ticket", "ticket_id", unique=True, postgresql_where=text("undone_at IS NULL")),
        Index("ix_checkins_event_time", "event_id", "checked_in_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False)
    event_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    scanned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # The scanner's X-Request-ID: its retry of this very scan is answered with this row again.
    request_id: Mapped[str] = mapped_column(String(128), nullable=False)
    checked_in_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    undone_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    undone_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
