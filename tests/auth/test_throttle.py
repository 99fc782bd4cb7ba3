"""The per-account login throttle (PostgreSQL): a lock after LOGIN_MAX_FAILURES attempts that
answers like a wrong password, exact under concurrency, and kept while the limiter's Redis is down."""
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from evently.auth import passwords, throttle
from evently.auth.models import LoginThrottle
from evently.common.models import utcnow
from evently.extensions import db
from tests import factories
from tests.variants import DEAD_REDIS, other_app

WRONG = "not the password"


def login(client, email, password):
    return client.post("/api/auth/login", json={"email": email, "password": password})


def attempts_for(email):
    db.session.expire_all()
    return db.session.scalar(select(LoginThrottle.attempts).where(LoginThrottle.email_digest == throttle.digest(email)))


def test_ten_failures_lock_the_account_with_the_wrong_password_answer(client, user):
    failures = [login(client, user.email, WRONG) for _ in range(10)]
    locked = login(client, user.email, factories.PASSWORD)

    assert {response.status_code for response in failures} == {401}
    assert locked.status_code == 401
    assert locked.get_json() == failures[0].get_json()
    assert locked.headers.get("Retry-After") is None  # nothing tells a lock from a wrong password
    assert attempts_for(user.email) == 11


def test_nine_failures_then_the_right_password_get_in_and_start_afresh(client, user):
    for _ in range(9):
        assert login(client, user.email, WRONG).status_code == 401

    assert login(client, user.email, factories.PASSWORD).status_code == 200
    assert attempts_for(user.email) is None
    for _ in range(9):
        assert login(client, user.email, WRONG).status_code == 401
    assert login(client, user.email, factories.PASSWORD).status_code == 200


def test_the_lock_ends_with_its_window(client, user):
    for _ in range(11):
        login(client, user.email, WRONG)
    assert login(client, user.email, factories.PASSWORD).status_code == 401

    db.session.execute(update(LoginThrottle).values(window_started_at=utcnow() - timedelta(minutes=15, seconds=1)))
    db.session.commit()

    assert login(client, user.email, factories.PASSWORD).status_code == 200


def test_the_lock_is_per_address_and_ignores_case_and_spaces(client, user):
    other = factories.make_user()
    for _ in range(10):
        login(client, f"  {user.email.upper()} ", WRONG)

    assert login(client, user.email, factories.PASSWORD).status_code == 401
    assert login(client, other.email, factories.PASSWORD).status_code == 200


def test_an_unknown_address_is_throttled_alike(client, app_ctx):
    """Known or not, the eleventh attempt finds a lock: the lock reveals no account."""
    for _ in range(10):
        login(client, "nobody@example.com", WRONG)

    assert attempts_for("nobody@example.com") == 10


@pytest.mark.race
def test_concurrent_guesses_never_check_more_passwords_than_the_limit(app, app_ctx, user, monkeypatch):
    checked = []
    real_verify = passwords.verify
    monkeypatch.setattr(passwords, "verify", lambda stored, given: checked.append(given) or real_verify(stored, given))
    racers, email = 24, user.email
    barrier = threading.Barrier(racers)
    statuses = [None] * racers

    def guess(index):
        client = app.test_client()
        barrier.wait()
        statuses[index] = login(client, email, f"guess number {index}").status_code

    threads = [threading.Thread(target=guess, args=(index,)) for index in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert set(statuses) == {401}
    assert len(checked) == app.config["LOGIN_MAX_FAILURES"]
    assert attempts_for(email) == racers


def test_the_account_lock_holds_across_processes_while_redis_is_down(app, app_ctx, user):
    """With the limiter's Redis dead each process limits per IP from its own memory; the account
    lock is in PostgreSQL, so two such processes together still allow ten attempts, not twenty."""
    answers = []
    for _process in range(2):
        with other_app(app, RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=DEAD_REDIS,
                       RATELIMIT_AUTH="100 per minute") as degraded:
            client = degraded.test_client()
            answers += [login(client, user.email, WRONG).status_code for _ in range(6)]
    with other_app(app, RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=DEAD_REDIS) as third:
        right = login(third.test_client(), user.email, factories.PASSWORD)

    assert answers == [401] * 12
    assert right.status_code == 401
    assert attempts_for(user.email) == 13
