"""The attendee export's memory: a 100,000-booking CSV streamed by a real gunicorn worker.

    .venv/bin/python -m bench.export_bench                 # 100,000 bookings
    .venv/bin/python -m bench.export_bench --bookings 20000

It uses its own database (evently_export, from EXPORT_DATABASE_URL) and Redis DB 8
(EXPORT_REDIS_URL), rebuilt on every run. It seeds one event with N bookings by
N / 10 users, starts gunicorn with one worker, downloads /api/events/:id/attendees.csv
while sampling the worker's resident memory every 20 ms, and prints the rows, the
bytes, the time and the worker's peak memory above its idle size. The export is
streamed from a server-side cursor, so that peak should not grow with N: run it at
two sizes to see (docs/benchmarks.md has the figures).
"""
import argparse
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATABASE_URL = os.environ.get("EXPORT_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/evently_export")
REDIS_URL = os.environ.get("EXPORT_REDIS_URL", "redis://127.0.0.1:6379/8")
ENV = {"EVENTLY_ENV": "development", "DATABASE_URL": DATABASE_URL, "REDIS_URL": REDIS_URL,
       "RATELIMIT_STORAGE_URI": REDIS_URL, "CELERY_BROKER_URL": REDIS_URL, "CELERY_RESULT_BACKEND": REDIS_URL,
       "RATELIMIT_ENABLED": "false", "EVENTLY_ADMIN_EMAIL": "", "JWT_ACCESS_MINUTES": "60", "FLASK_APP": "wsgi",
       "HOST": "127.0.0.1", "LOG_LEVEL": "WARNING"}
os.environ.update(ENV)
sys.path.insert(0, ROOT)

import psutil  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import text  # noqa: E402

from bench.loopback import free_port, wait_http  # noqa: E402
from evently import create_app  # noqa: E402
from evently.auth import sessions  # noqa: E402
from evently.auth.models import AuthSession  # noqa: E402
from evently.dbsetup import recreate_database  # noqa: E402
from evently.extensions import db, redis_client  # noqa: E402

SEED = """
WITH admin AS (
    INSERT INTO users (email, name, password_hash, role) VALUES ('admin@export.bench', 'Admin', 'x', 'admin')
    RETURNING id
), event AS (
    INSERT INTO events (title, venue, starts_at, ends_at, capacity, booked_seats, price, currency, status)
    VALUES ('Export', 'Hall', now() + interval '30 days', now() + interval '30 days 3 hours', :bookings * 4,
            :bookings * 2, 20, 'EUR', 'published')
    RETURNING id
), people AS (
    INSERT INTO users (email, name, password_hash)
    SELECT 'attendee' || n || '@export.bench', 'Attendee number ' || n, 'x' FROM generate_series(1, :users) n
    RETURNING id
), numbered AS (
    SELECT id, row_number() OVER (ORDER BY id) AS n FROM people
)
INSERT INTO bookings (reference, user_id, event_id, quantity, unit_price, total_amount, currency)
SELECT 'EVT-EX' || lpad(b::text, 8, '0'), p.id, (SELECT id FROM event), 2, 20, 40, 'EUR'
FROM generate_series(1, :bookings) b JOIN numbered p ON p.n = 1 + b % :users
"""


def seed(bookings):
    recreate_database(DATABASE_URL)
    app = create_app()
    with app.app_context():
        upgrade(directory=os.path.join(ROOT, "migrations"))
        redis_client.flushdb()
        db.session.execute(text(SEED), {"bookings": bookings, "users": max(bookings // 10, 1)})
        db.session.commit()
        event_id = db.session.execute(text("SELECT id FROM events")).scalar()
        admin_id = db.session.execute(text("SELECT id FROM users WHERE role = 'admin'")).scalar()
        db.session.add(AuthSession(id=secrets.token_hex(16), user_id=admin_id, refresh_jti=str(uuid.uuid4())))
        db.session.flush()
        session = db.session.query(AuthSession).filter_by(user_id=admin_id).one()
        token = sessions.mint(user_id=admin_id, role="admin", family_id=session.id, refresh_jti=session.refresh_jti).access_token
        db.session.commit()
        db.engine.dispose()
    return event_id, token


def sample_peak(process, stop, peak):
    while not stop.is_set():
        peak[0] = max(peak[0], process.memory_info().rss)
        time.sleep(0.02)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bookings", type=int, default=100_000)
    args = parser.parse_args()
    event_id, token = seed(args.bookings)
    port = free_port()
    server = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "gunicorn"), "--config",
                               "gunicorn.conf.py", "wsgi:app"], cwd=ROOT, start_new_session=True,
                              env={**os.environ, "PORT": str(port), "WEB_CONCURRENCY": "1"},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/healthz")
        worker = psutil.Process(server.pid).children()[0]
        request = urllib.request.Request(f"{base}/api/events/{event_id}/attendees.csv",
                                         headers={"Authorization": f"Bearer {token}"})
        # One small download first, so the worker's imports and pools are warm before "idle" is read.
        urllib.request.urlopen(urllib.request.Request(f"{base}/api/events/{event_id}/attendees?perPage=1",
                                                      headers=request.headers), timeout=30).read()
        idle = worker.memory_info().rss
        peak, stop = [idle], threading.Event()
        sampler = threading.Thread(target=sample_peak, args=(worker, stop, peak), daemon=True)
        sampler.start()
        started = time.perf_counter()
        size = rows = 0
        with urllib.request.urlopen(request, timeout=300) as response:
            for line in response:
                size += len(line)
                rows += 1
        elapsed = time.perf_counter() - started
        stop.set()
        sampler.join()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(20)
    print(f"attendees.csv of {args.bookings:,} bookings: {rows - 1:,} rows, {size / 1e6:.1f} MB in {elapsed:.1f} s; "
          f"gunicorn worker RSS idle {idle / 2**20:.1f} MiB, peak {peak[0] / 2**20:.1f} MiB "
          f"(+{(peak[0] - idle) / 2**20:.1f} MiB)")
    return 0 if rows - 1 == args.bookings else 1


if __name__ == "__main__":
    sys.exit(main())
