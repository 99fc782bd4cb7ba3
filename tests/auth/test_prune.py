"""auth.prune (Celery beat, hourly): rows no request can use go, the rest stay."""
from datetime import timedelta

from sqlalchemy import select, update

from evently.auth import tasks, throttle
from evently.auth.models import AuthSession, LoginThrottle, PasswordReset
from evently.celery_app import beat_schedule
from evently.common.models import utcnow
from evently.extensions import db
from tests import factories


def test_prune_keeps_what_is_live_and_drops_the_rest(app, app_ctx, user):
    now = utcnow()
    live, ended_now, ended_long_ago, idle = (factories.start_session(user).family_id for _ in range(4))
    db.session.execute(update(AuthSession).where(AuthSession.id == ended_now)
                       .values(revoked_at=now, revoked_reason="logout"))
    db.session.execute(update(AuthSession).where(AuthSession.id == ended_long_ago)
                       .values(revoked_at=now - timedelta(days=2), revoked_reason="logout"))
    db.session.execute(update(AuthSession).where(AuthSession.id == idle)
                       .values(last_used_at=now - app.config["JWT_REFRESH_TOKEN_EXPIRES"] - timedelta(hours=1)))
    db.session.add_all([
        LoginThrottle(email_digest=throttle.digest("old@example.com"), attempts=3,
                      window_started_at=now - timedelta(hours=1)),
        LoginThrottle(email_digest=throttle.digest("new@example.com"), attempts=3, window_started_at=now),
        PasswordReset(user_id=user.id, token_hash="a" * 64, created_at=now - timedelta(days=2),
                      expires_at=now - timedelta(days=2) + timedelta(minutes=30)),
        PasswordReset(user_id=user.id, token_hash="b" * 64, created_at=now - timedelta(minutes=40),
                      expires_at=now - timedelta(minutes=10)),
    ])
    db.session.commit()

    counts = tasks.prune()

    assert counts == {"sessions": 2, "throttles": 1, "passwordResets": 1}
    db.session.expire_all()
    assert sorted(db.session.scalars(select(AuthSession.id))) == sorted([live, ended_now])
    assert db.session.scalars(select(LoginThrottle.email_digest)).all() == [throttle.digest("new@example.com")]
    # An expired reset still counts toward the hourly limit, so it stays until it is a day old.
    assert db.session.scalars(select(PasswordReset.token_hash)).all() == ["b" * 64]


def test_beat_runs_it(app):
    assert beat_schedule(app.config)["prune-auth"]["task"] == "auth.prune"
