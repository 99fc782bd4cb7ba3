"""Rollup tables: per-event daily booking stats, per-user booking stats, and the rollup watermark.

Rows are derived data: the rollup task recomputes whole groups from `bookings`
(replace, never increment), so they can always be rebuilt from scratch.
"""
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Date, DateTime, Index, Integer, Numeric, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from evently.auth.models import User
from evently.bookings.models import Booking
from evently.extensions import db
from evently.waitlist.models import WaitlistEntry


class EventDailyStat(db.Model):
    """One event, one UTC day of booking creation, one currency. Every count is
    about the bookings *created* that day, as they stand now: a booking created
    on Monday and cancelled on Friday moves from Monday's revenue into Monday's
    cancellations when the rollup recomputes Monday."""

    __tablename__ = "analytics_event_daily"
    __table_args__ = (Index("ix_analytics_event_daily_day", "day"),)

    event_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    bookings: Mapped[int] = mapped_column(Integer, nullable=False)
    confirmed_bookings: Mapped[int] = mapped_column(Integer, nullable=False)
    tickets: Mapped[int] = mapped_column(Integer, nullable=False)
    revenue: Mapped[Decimal] = mapped_column(Numeric(16, 2), nullable=False)
    cancellations: Mapped[int] = mapped_column(Integer, nullable=False)
    cancelled_tickets: Mapped[int] = mapped_column(Integer, nullable=False)
    promotions: Mapped[int] = mapped_column(Integer, nullable=False)
    promoted_tickets: Mapped[int] = mapped_column(Integer, nullable=False)
    promotion_waits: Mapped[int] = mapped_column(Integer, nullable=False)
    promotion_wait_seconds: Mapped[Decimal] = mapped_column(Numeric(18, 3), nullable=False)
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


class UserBookingStat(db.Model):
    """One user's bookings as they stand now (confirmed counts are net of cancellations)."""

    __tablename__ = "analytics_user_stats"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    bookings: Mapped[int] = mapped_column(Integer, nullable=False)
    confirmed_bookings: Mapped[int] = mapped_column(Integer, nullable=False)
    tickets: Mapped[int] = mapped_column(Integer, nullable=False)
    cancellations: Mapped[int] = mapped_column(Integer, nullable=False)
    first_booked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_booked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


class RollupState(db.Model):
    """The watermark: every booking change not reflected in the rollup tables
    carries a timestamp (created_at, updated_at or cancelled_at) at or after it."""

    __tablename__ = "analytics_rollup_state"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    watermark: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_run_ms: Mapped[int | None] = mapped_column(Integer)
    last_run_groups: Mapped[int | None] = mapped_column(Integer)


# Indexes on other domains' tables that only analytics needs. Declared here so that
# Alembic autogenerate sees them (migration 0002 creates them) without touching those models.
Index("ix_bookings_updated_at", Booking.__table__.c.updated_at)
Index("ix_bookings_cancelled_at", Booking.__table__.c.cancelled_at, postgresql_where=text("cancelled_at IS NOT NULL"))
Index("ix_bookings_event_created", Booking.__table__.c.event_id, Booking.__table__.c.created_at)
Index("ix_bookings_promotion_wait", Booking.__table__.c.created_at, Booking.__table__.c.seats_freed_at,
      postgresql_where=text("source = 'waitlist' AND seats_freed_at IS NOT NULL"))
Index("ix_users_created_at", User.__table__.c.created_at)
Index("ix_waitlist_entries_waiting_demand", WaitlistEntry.__table__.c.event_id,
      postgresql_include=["quantity_remaining"], postgresql_where=text("status = 'waiting'"))
