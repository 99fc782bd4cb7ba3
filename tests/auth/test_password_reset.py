"""Password reset: always 202, a single-use token mailed through the outbox (hashed at rest,
30 minutes, limited per account), and a confirmation that ends every session."""
import hashlib
import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text, update

from evently.auth import passwords
from evently.auth.models import AuthSession, PasswordReset
from evently.common.models import utcnow
from evently.extensions import db
from evently.notifications import services as delivery
from evently.notifications.models import Notification
from tests import factories
from tests.waiting import wait_until

NEW_PASSWORD = "a brand new passphrase"


def ask(client, email):
    return client.post("/api/auth/password-reset", json={"email": email})


def confirm(client, token, password=NEW_PASSWORD):
    return client.post("/api/auth/password-reset/confirm", json={"token": token, "password": password})


def login_status(client, email, password):
    return client.post("/api/auth/login", json={"email": email, "password": password}).status_code


def resets():
    db.session.expire_all()
    return db.session.scalars(select(PasswordReset).order_by(PasswordReset.id)).all()


def reset_notifications():
    db.session.expire_all()
    return db.session.scalars(select(Notification).where(Notification.kind == "password_reset")
                              .order_by(Notification.id)).all()


def token_in(body):
    return re.search(r"^([A-Za-z0-9_-]{43})$", body, re.MULTILINE).group(1)


def mailed_token(user):
    """Deliver the pending reset mail the way the worker does, and read the token from it."""
    [row] = [row for row in reset_notifications() if row.status == "pending" and row.user_id == user.id]
    token = token_in(row.body)
    assert delivery.deliver(notification_id=row.id).outcome == "sent"
    return token


def test_a_reset_for_an_account_and_for_nobody_get_the_same_202(client, user):
    known, unknown = ask(client, user.email.upper()), ask(client, "nobody@example.com")

    for response in (known, unknown):
        assert response.status_code == 202, response.get_json()
        assert response.headers["Cache-Control"] == "no-store"
    assert known.get_json() == unknown.get_json()
    [reset] = resets()
    assert reset.user_id == user.id and reset.used_at is None
    assert timedelta(minutes=29) < reset.expires_at - utcnow() <= timedelta(minutes=30)
    assert [row.user_id for row in reset_notifications()] == [user.id]


def test_the_token_is_mailed_through_the_outbox_and_kept_only_hashed(app, client, user, smtp_server,
                                                                    celery_worker):
    assert ask(client, user.email).status_code == 202

    [message] = wait_until(lambda: smtp_server.messages_with("Reset your Evently password"),
                           message="the reset mail was delivered by the worker")
    token = token_in(message.replace("\r\n", "\n"))
    assert f"To: {user.email}" in message
    [reset] = resets()
    assert reset.token_hash == hashlib.sha256(token.encode()).hexdigest()
    # Once delivered, nothing in the database holds the token itself.
    [row] = wait_until(lambda: [row for row in reset_notifications() if row.status == "sent"])
    assert token not in row.body
    dump = db.session.execute(text("SELECT row_to_json(r)::text FROM password_resets r UNION ALL "
                                   "SELECT row_to_json(n)::text FROM notifications n")).scalars().all()
    assert dump and not any(token in line for line in dump)
    assert confirm(client, token).status_code == 200


def test_the_mail_links_to_the_configured_page(app, client, user, monkeypatch):
    monkeypatch.setitem(app.config, "PASSWORD_RESET_URL", "https://app.example.com/reset?token=")

    ask(client, user.email)

    [row] = reset_notifications()
    assert re.search(r"^https://app\.example\.com/reset\?token=[A-Za-z0-9_-]{43}$", row.body, re.MULTILINE)


def test_confirming_sets_the_password_and_ends_every_session(client, user, app_ctx):
    sessions = [client.post("/api/auth/login", json={"email": user.email, "password": factories.PASSWORD})
                .get_json()["data"] for _ in range(2)]
    ask(client, user.email)
    token = mailed_token(user)

    response = confirm(client, token)

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["data"] == {"endedSessions": 2}
    assert response.headers["Cache-Control"] == "no-store"
    for tokens in sessions:
        assert client.get("/api/auth/me", headers={"Authorization": f"Bearer {tokens['accessToken']}"}).status_code == 401
        assert client.post("/api/auth/refresh",
                           headers={"Authorization": f"Bearer {tokens['refreshToken']}"}).status_code == 401
    assert login_status(client, user.email, factories.PASSWORD) == 401
    assert login_status(client, user.email, NEW_PASSWORD) == 200
    assert resets()[0].used_at is not None


def test_a_token_works_once(client, user):
    ask(client, user.email)
    token = mailed_token(user)
    assert confirm(client, token).status_code == 200

    again = confirm(client, token, password="yet another passphrase")

    assert again.status_code == 401
    assert again.get_json()["error"]["code"] == "UNAUTHORIZED"
    assert login_status(client, user.email, NEW_PASSWORD) == 200


def test_an_expired_token_is_refused(client, user):
    ask(client, user.email)
    token = mailed_token(user)
    db.session.execute(update(PasswordReset).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()

    assert confirm(client, token).status_code == 401
    assert login_status(client, user.email, factories.PASSWORD) == 200


@pytest.mark.parametrize("token", ["x", "a" * 43, "' OR 1=1 --"])
def test_an_unknown_token_is_refused(client, user, token):
    ask(client, user.email)

    assert confirm(client, token).status_code == 401
    assert login_status(client, user.email, factories.PASSWORD) == 200


def test_a_newer_password_voids_older_reset_tokens(client, user):
    ask(client, user.email)
    first = mailed_token(user)
    ask(client, user.email)
    second = mailed_token(user)

    assert confirm(client, second).status_code == 200
    assert confirm(client, first, password="yet another passphrase").status_code == 401


def test_resets_are_limited_per_account_yet_answered_alike(app, client, user):
    limit = app.config["PASSWORD_RESET_MAX_PER_HOUR"]

    statuses = [ask(client, user.email).status_code for _ in range(limit + 2)]

    assert statuses == [202] * (limit + 2)
    assert len(resets()) == limit
    assert len(reset_notifications()) == limit


def test_the_new_password_follows_the_registration_rules(client, user):
    ask(client, user.email)
    token = mailed_token(user)

    response = confirm(client, token, password="short")

    assert response.status_code == 400
    assert list(response.get_json()["error"]["details"]) == ["password"]
    assert confirm(client, token).status_code == 200  # a refused body does not spend the token


@pytest.mark.race
def test_a_token_raced_against_itself_sets_one_password(app, app_ctx, user):
    client = app.test_client()
    ask(client, user.email)
    token = mailed_token(user)
    racers = 6
    barrier = threading.Barrier(racers)
    statuses = [None] * racers

    def race(index):
        barrier.wait()
        statuses[index] = confirm(app.test_client(), token, password=f"racer number {index} wins").status_code

    threads = [threading.Thread(target=race, args=(index,)) for index in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert sorted(statuses) == [200] + [401] * (racers - 1)
    winner = statuses.index(200)
    assert [login_status(client, user.email, f"racer number {index} wins") for index in range(racers)] == [
        200 if index == winner else 401 for index in range(racers)]
    assert db.session.scalar(select(func.count()).select_from(PasswordReset)
                             .where(PasswordReset.used_at.is_(None))) == 0


def paused_password_checks(monkeypatch):
    """Make every password check wait, after checking, until the test says go: a window for a
    reset to commit while a login or a change holds the old password's verdict."""
    checking, go = threading.Event(), threading.Event()
    real_verify = passwords.verify

    def verify_then_wait(stored_hash, password):
        verdict = real_verify(stored_hash, password)
        checking.set()
        assert go.wait(30)
        return verdict

    monkeypatch.setattr(passwords, "verify", verify_then_wait)
    return checking, go


@pytest.mark.race
def test_a_login_that_overlaps_a_reset_opens_no_session(app, app_ctx, user, monkeypatch):
    email, outcome = user.email, {}
    checking, go = paused_password_checks(monkeypatch)
    racer = threading.Thread(target=lambda: outcome.update(status=login_status(app.test_client(), email,
                                                                               factories.PASSWORD)))
    racer.start()
    assert checking.wait(30)
    client = app.test_client()
    ask(client, email)
    assert confirm(client, mailed_token(user)).status_code == 200
    go.set()
    racer.join(30)

    assert outcome["status"] == 401
    assert db.session.scalars(select(AuthSession).where(AuthSession.revoked_at.is_(None))).all() == []


@pytest.mark.race
def test_a_reset_wins_over_a_change_proven_with_the_old_password(app, app_ctx, user, monkeypatch):
    tokens = factories.start_session(user)
    checking, go = paused_password_checks(monkeypatch)
    outcome = {}
    racer = threading.Thread(target=lambda: outcome.update(status=app.test_client().post(
        "/api/auth/password", headers={"Authorization": f"Bearer {tokens.access_token}"},
        json={"currentPassword": factories.PASSWORD, "newPassword": "the attacker's choice"}).status_code))
    racer.start()
    assert checking.wait(30)
    client = app.test_client()
    ask(client, user.email)
    assert confirm(client, mailed_token(user)).status_code == 200
    go.set()
    racer.join(30)

    assert outcome["status"] == 403  # what it proved is no longer the password
    assert login_status(client, user.email, "the attacker's choice") == 401
    assert login_status(client, user.email, NEW_PASSWORD) == 200
