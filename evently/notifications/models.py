"""The notification outbox: rows written in the same transaction as the change they announce."""
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from evently.common.models import TimestampMixin
from evently.extensions import db

NOTIFICATION_KINDS = ("booking_confirmed", "waitlist_promoted", "booking_cancelled", "event_cancelled",
                      "waitlist_removed", "password_reset", "event_reminder")
# Kinds whose body carries a credential: blanked once the mail is sent or given up, so the
# outbox keeps it no longer than delivery takes (evently/notifications/services.py).
SECRET_BEARING_KINDS = frozenset({"password_reset"})
BLANKED_BODY = "(removed after delivery: it carried a one-time credential)"


class Notification(TimestampMixin, db.Model):
    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'sent', 'failed')", name="status_known"),
        Index("ix_notifications_pending", "next_attempt_at", postgresql_where=text("status = 'pending'")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # What happened, once: a second write of the same fact is a no-op.
    dedupe_key: Mapped[str] = mapped_column(String(120), nullable=False, unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    # Unbounded: the text quotes event titles, and a notification must never abort the seat change it announces.
    subject: Mapped[str] = mapped_column(Text, nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    payload: Mapped[dict] = mapped_column(JSONB, nullable=False, server_default="{}")
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                      server_default=text("now()"))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class BackgroundJob(TimestampMixin, db.Model):
    """Progress of a long admin job (event cancellation) that an admin can read."""

    __tablename__ = "background_jobs"
    __table_args__ = (CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="status_known"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    subject_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default="queued")
    total: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    done: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    error: Mapped[str | None] = mapped_column(Text)
