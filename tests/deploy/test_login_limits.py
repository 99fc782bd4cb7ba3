"""How many logins one client and one account get, on a real 3-worker gunicorn, with the limiter's
Redis up and with it down (docs/security.md quotes these figures; `pytest -s` prints them).

- Per IP (flask-limiter, RATELIMIT_AUTH): shared in Redis, so exactly the limit; with Redis down
  each worker counts in its own memory, so at most the limit times the workers.
- Per account (PostgreSQL, LOGIN_MAX_FAILURES): exactly the limit, Redis or not.
"""
import http.client
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from evently.auth import throttle
from evently.auth.models import LoginThrottle
from evently.extensions import db
from tests import factories
from tests.servers import gunicorn
from tests.variants import DEAD_REDIS

pytestmark = pytest.mark.slow  # four gunicorn servers and 200 argon2 checks: `make test-faults`
WORKERS, PER_IP = 3, 10


def server_env(app, limiter_storage):
    return {"EVENTLY_ENV": "development", "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "REDIS_URL": app.config["REDIS_URL"], "CELERY_BROKER_URL": app.config["REDIS_URL"],
            "RATELIMIT_STORAGE_URI": limiter_storage, "RATELIMIT_ENABLED": "true",
            "RATELIMIT_AUTH": f"{PER_IP} per minute", "EVENTLY_ADMIN_EMAIL": "", "LOG_LEVEL": "WARNING"}


def login(port, email, password):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("POST", "/api/auth/login", body=json.dumps({"email": email, "password": password}),
                           headers={"Content-Type": "application/json"})
        return connection.getresponse().status
    finally:
        connection.close()


def storm(port, attempts):
    """`attempts` logins from this one address, six at a time, each for another (unknown) account."""
    with ThreadPoolExecutor(max_workers=6) as pool:
        return list(pool.map(lambda n: login(port, f"stranger{n}@example.com", "wrong password"), range(attempts)))


@pytest.mark.parametrize("redis_state", ["up", "down"])
def test_logins_allowed_per_ip(app, app_ctx, redis_state):
    storage = app.config["REDIS_URL"] if redis_state == "up" else DEAD_REDIS
    with gunicorn(server_env(app, storage), workers=WORKERS) as port:
        statuses = storm(port, 60)

    allowed = sum(status != 429 for status in statuses)
    print(f"per IP, limiter Redis {redis_state}: {allowed} of 60 logins allowed in a minute "
          f"({WORKERS} workers, RATELIMIT_AUTH={PER_IP} per minute)")
    assert set(statuses) <= {401, 429}
    if redis_state == "up":
        assert allowed == PER_IP
    else:
        assert PER_IP <= allowed <= PER_IP * WORKERS


@pytest.mark.parametrize("redis_state", ["up", "down"])
def test_logins_allowed_per_account(app, app_ctx, redis_state):
    user = factories.make_user()
    email, limit = user.email, app.config["LOGIN_MAX_FAILURES"]
    storage = app.config["REDIS_URL"] if redis_state == "up" else DEAD_REDIS
    env = {**server_env(app, storage), "RATELIMIT_AUTH": "1000 per minute"}
    with gunicorn(env, workers=WORKERS) as port:
        with ThreadPoolExecutor(max_workers=6) as pool:
            wrong = list(pool.map(lambda n: login(port, email, f"guess {n}"), range(3 * limit)))
        right = login(port, email, factories.PASSWORD)

    db.session.expire_all()
    counted = db.session.scalar(select(LoginThrottle.attempts)
                                .where(LoginThrottle.email_digest == throttle.digest(email)))
    print(f"per account, limiter Redis {redis_state}: {limit} attempts, then locked "
          f"(the right password after {3 * limit} wrong ones from {WORKERS} workers: {right})")
    assert set(wrong) == {401}
    assert right == 401
    assert counted == 3 * limit + 1
