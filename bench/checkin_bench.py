"""Check-in at the door: 2,000 scans from 32 concurrent scanners against a real gunicorn.

    .venv/bin/python -m bench.checkin_bench                          # 2,000 tickets, 32 scanners
    .venv/bin/python -m bench.checkin_bench --tickets 5000 --scanners 64

It uses its own database (evently_checkin, from CHECKIN_DATABASE_URL) and Redis DB 9
(CHECKIN_REDIS_URL), rebuilt on every run. It seeds one event with N one-seat
bookings and their tickets, and 32 staff accounts with sessions, derives every
ticket's code as the API shows it, starts gunicorn (WEB_CONCURRENCY, default
cores + 1, sync workers), and runs two rounds in which each scanner (a thread with
its own account) posts its share of the codes to POST /api/checkins as fast as the
server answers:

1. first scans: every answer must be 201 (one check-in per ticket);
2. the same codes again: every answer must be 409 ALREADY_CHECKED_IN.

It prints scans/s and latency percentiles per round, checks that PostgreSQL holds
exactly one live check-in per ticket, and exits non-zero otherwise. The scanners run
on the same 2 cores as the server (docs/benchmarks.md has the figures).
"""
import argparse
import http.client
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATABASE_URL = os.environ.get("CHECKIN_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/evently_checkin")
REDIS_URL = os.environ.get("CHECKIN_REDIS_URL", "redis://127.0.0.1:6379/9")
ENV = {"EVENTLY_ENV": "development", "DATABASE_URL": DATABASE_URL, "REDIS_URL": REDIS_URL,
       "RATELIMIT_STORAGE_URI": REDIS_URL, "CELERY_BROKER_URL": REDIS_URL, "CELERY_RESULT_BACKEND": REDIS_URL,
       "EVENTLY_ADMIN_EMAIL": "", "JWT_ACCESS_MINUTES": "60", "FLASK_APP": "wsgi", "HOST": "127.0.0.1",
       "LOG_LEVEL": "WARNING"}
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
from evently.tickets import codes  # noqa: E402

SEED = """
WITH event AS (
    INSERT INTO events (title, venue, starts_at, ends_at, capacity, booked_seats, price, currency, status, timezone)
    VALUES ('Door', 'Hall', now() + interval '2 hours', now() + interval '5 hours', :tickets, :tickets, 20, 'EUR',
            'published', 'Europe/Paris')
    RETURNING id
), people AS (
    INSERT INTO users (email, name, password_hash)
    SELECT 'attendee' || n || '@checkin.bench', 'Attendee number ' || n, 'x' FROM generate_series(1, :tickets) n
    RETURNING id
), booked AS (
    INSERT INTO bookings (reference, user_id, event_id, quantity, unit_price, total_amount, currency)
    SELECT 'EVT-CK' || lpad(row_number() OVER (ORDER BY p.id)::text, 8, '0'), p.id, (SELECT id FROM event), 1,
           20, 20, 'EUR'
    FROM people p
    RETURNING id, event_id
)
INSERT INTO tickets (booking_id, event_id, seat_index) SELECT id, event_id, 1 FROM booked
"""


def seed(tickets, scanners):
    """The event, its tickets' codes, and one access token per scanner."""
    recreate_database(DATABASE_URL)
    app = create_app()
    with app.app_context():
        upgrade(directory=os.path.join(ROOT, "migrations"))
        redis_client.flushdb()
        db.session.execute(text(SEED), {"tickets": tickets})
        rows = db.session.execute(text("""SELECT t.id, t.event_id, t.seat_index, b.reference
                                          FROM tickets t JOIN bookings b ON b.id = t.booking_id ORDER BY t.id""")).all()
        all_codes = [codes.code_for(codes.TicketFields(ticket_id=row.id, event_id=row.event_id,
                                                       seat_index=row.seat_index, reference=row.reference))
                     for row in rows]
        tokens = []
        for number in range(scanners):
            staff_id = db.session.execute(text(
                "INSERT INTO users (email, name, password_hash, role) VALUES (:email, :name, 'x', 'staff') RETURNING id"),
                {"email": f"door{number}@checkin.bench", "name": f"Door {number}"}).scalar()
            session = AuthSession(id=secrets.token_hex(16), user_id=staff_id, refresh_jti=str(uuid.uuid4()))
            db.session.add(session)
            db.session.flush()
            tokens.append(sessions.mint(user_id=staff_id, role="staff", family_id=session.id,
                                        refresh_jti=session.refresh_jti).access_token)
        db.session.commit()
        db.engine.dispose()
    return app, all_codes, tokens


def scan_round(port, tokens, all_codes):
    """Every scanner posts its share of the codes, one after the other; all start together.
    Returns (wall seconds, [(status, seconds)])."""
    shares = [all_codes[index::len(tokens)] for index in range(len(tokens))]
    results = [[] for _ in tokens]
    barrier = threading.Barrier(len(tokens) + 1)

    def scanner(index):
        barrier.wait()
        for number, code in enumerate(shares[index]):
            body = json.dumps({"code": code})
            headers = {"Authorization": f"Bearer {tokens[index]}", "Content-Type": "application/json",
                       "X-Request-ID": f"scanner-{index}.{number}.{time.monotonic_ns()}"}
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            started = time.perf_counter()
            connection.request("POST", "/api/checkins", body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            results[index].append((response.status, time.perf_counter() - started))
            connection.close()

    threads = [threading.Thread(target=scanner, args=(index,)) for index in range(len(tokens))]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, [result for per_scanner in results for result in per_scanner]


def server_cpu(server):
    processes = [psutil.Process(server.pid), *psutil.Process(server.pid).children(recursive=True)]
    return sum(sum(process.cpu_times()[:2]) for process in processes)


def report(label, wall, results, expected, cpu):
    latencies = sorted(seconds * 1000 for _status, seconds in results)
    statuses = {}
    for status, _seconds in results:
        statuses[status] = statuses.get(status, 0) + 1
    quantiles = statistics.quantiles(latencies, n=100)
    print(f"{label}: {len(results):,} scans in {wall:.2f} s = {len(results) / wall:,.0f} scans/s; "
          f"p50 {quantiles[49]:.1f} ms, p95 {quantiles[94]:.1f} ms, p99 {quantiles[98]:.1f} ms; "
          f"statuses {statuses}; gunicorn CPU {cpu * 1000 / len(results):.2f} ms per scan")
    return statuses == {expected: len(results)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=2000)
    parser.add_argument("--scanners", type=int, default=32)
    args = parser.parse_args()
    app, all_codes, tokens = seed(args.tickets, args.scanners)
    port = free_port()
    server = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "gunicorn"), "--config",
                               "gunicorn.conf.py", "wsgi:app"], cwd=ROOT, start_new_session=True,
                              env={**os.environ, "PORT": str(port)},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ok = True
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz")
        workers = len(psutil.Process(server.pid).children())
        print(f"check-in bench: {args.tickets:,} tickets, {args.scanners} scanners, gunicorn {workers} sync workers, "
              f"{os.cpu_count()} cores")
        for label, expected in (("first scans (201)", 201), ("scans again (409)", 409)):
            cpu = server_cpu(server)
            wall, results = scan_round(port, tokens, all_codes)
            ok &= report(label, wall, results, expected, server_cpu(server) - cpu)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(20)
    with app.app_context():
        live = db.session.execute(text("SELECT count(*), count(DISTINCT ticket_id) FROM checkins "
                                       "WHERE undone_at IS NULL")).one()
        db.engine.dispose()
    print(f"PostgreSQL: {live[0]:,} live check-ins for {live[1]:,} tickets (expected {args.tickets:,} of each)")
    ok &= tuple(live) == (args.tickets, args.tickets)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
