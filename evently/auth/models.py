"""Accounts, login sessions (refresh-token families), password resets and the login throttle."""
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, Integer, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from evently.common.models import TimestampMixin
from evently.extensions import db

# staff: door accounts, created by admins; they check tickets in and read attendee lists, nothing else.
ROLES = ("user", "admin", "staff")


class RoleRights:
    """What a `role` may do: one home for a User row and for a token's Caller."""

    @property
    def is_admin(self):
        return self.role == "admin"

    @property
    def works_the_door(self):
        """May check tickets in and read attendee lists: staff, and admins."""
        return self.role in ("staff", "admin")


class User(RoleRights, TimestampMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('user', 'admin', 'staff')", name="role_known"),
        Index("uq_users_email_lower", text("lower(email)"), unique=True),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), nullable=False)
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False, server_default="user")


SESSION_END_REASONS = ("logout", "logout_all", "password_change", "password_reset", "refresh_reuse")


class AuthSession(db.Model):
    """One login: the family of every access and refresh token minted from it (their `fam`
    claim). Only `refresh_jti` may refresh; a refresh token of the family that is not the
    current one is a replay, and ends the family. A token whose family is missing or revoked
    is refused, so rows may be deleted once revoked or idle past the refresh lifetime."""

    __tablename__ = "auth_sessions"
    __table_args__ = (
        CheckConstraint(f"revoked_reason IN {SESSION_END_REASONS}", name="revoked_reason_known"),
        CheckConstraint("(revoked_at IS NULL) = (revoked_reason IS NULL)", name="revoked_with_reason"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), nullable=False,
                                         index=True)
    refresh_jti: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    last_used_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_reason: Mapped[str | None] = mapped_column(String(16))


class PasswordReset(db.Model):
    """A single-use reset token, kept only as its SHA-256 (the token is 256 random bits, so a
    fast hash is enough): a copy of the table does not let anyone reset a password."""

    __tablename__ = "password_resets"
    __table_args__ = (Index("ix_password_resets_user_created", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LoginThrottle(db.Model):
    """Login attempts per address within the current window. Keyed by a digest of the
    normalised address, known or not, so a locked account and an unknown address look alike."""

    __tablename__ = "login_throttles"

    email_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False)
    window_started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                        server_default=func.now(), index=True)
