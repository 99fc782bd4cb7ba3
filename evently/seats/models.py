"""The hold ledger: which Redis holds reached an outcome in PostgreSQL."""
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, String, func
from sqlalchemy.orm import Mapped, mapped_column

from evently.extensions import db


class SeatHold(db.Model):
    """One row per Redis hold that reached an outcome. Its primary key is the
    arbiter: the booking transaction inserts 'committed', the reaper inserts
    'released'; whichever commits first wins and the other gets a conflict, so
    a reaped hold can never also be booked and a booked hold never refunded."""

    __tablename__ = "seat_holds"
    __table_args__ = (CheckConstraint("outcome IN ('committed', 'released')", name="outcome_known"),)

    hold_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    event_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    outcome: Mapped[str] = mapped_column(String(16), nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now(), index=True
    )
