"""Analytics benchmark: seed a demo dataset into its own database, then time every analytics endpoint.

    .venv/bin/python bench/analytics_bench.py                     # 200 events, 20k users, 500k bookings
    .venv/bin/python bench/analytics_bench.py --bookings 50000 --runs 5
    .venv/bin/python bench/analytics_bench.py --reuse             # keep the seeded database from last time

The database (default evently_bench, from BENCH_DATABASE_URL) is dropped and
rebuilt from the migrations unless --reuse. Requests go through the Flask test
client (the whole stack: routing, JWT, schemas, SQL, serialization; no network).
Each endpoint is timed warm (after --warmup calls) in two states:
- "rolled up": right after a rollup, the live delta is empty;
- "delta": after --delta fresh bookings and cancellations of old bookings made
  since the rollup, which the endpoints must recompute live.
"""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import text  # noqa: E402

from evently import create_app  # noqa: E402
from evently.dbsetup import recreate_database  # noqa: E402
from evently.extensions import db  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/evently_bench"
ENDPOINTS = [
    "/api/analytics/overview",
    "/api/analytics/revenue?granularity=day",
    "/api/analytics/revenue?granularity=week&from={year_ago}",
    "/api/analytics/revenue?granularity=month&from={year_ago}",
    "/api/analytics/revenue?granularity=day&eventId={top_event}",
    "/api/analytics/events?sort=popularity&limit=20",
    "/api/analytics/events?sort=revenue&limit=100",
    "/api/analytics/events?sort=utilization&limit=20",
    "/api/analytics/users",
    "/api/analytics/users?granularity=week&from={year_ago}",
]

# Fresh activity after the rollup: cancellations of old bookings, and new bookings today taking the freed seats.
DELTA_SQL = """
WITH picked AS (
    SELECT id FROM bookings WHERE status = 'confirmed' AND source = 'direct'
    ORDER BY random() LIMIT :count
), cancelled AS (
    UPDATE bookings b SET status = 'cancelled', cancelled_at = now(), updated_at = now()
    FROM picked WHERE picked.id = b.id
    RETURNING b.event_id, b.quantity
)
UPDATE events e SET booked_seats = e.booked_seats - c.seats
FROM (SELECT event_id, sum(quantity) AS seats FROM cancelled GROUP BY event_id) c WHERE c.event_id = e.id;
WITH src AS (
    SELECT b.user_id, b.event_id, b.quantity, b.unit_price, b.currency,
           nextval(pg_get_serial_sequence('bookings', 'id')) AS id
    FROM bookings b WHERE b.status = 'cancelled' AND b.cancelled_at = now() OFFSET 0
), made AS (
    INSERT INTO bookings (id, reference, user_id, event_id, quantity, unit_price, total_amount, currency)
    SELECT id, 'EVT-BN' || translate(lpad(id::text, 8, '0'), '01', 'XY'), user_id, event_id, quantity,
           unit_price, unit_price * quantity, currency FROM src
    RETURNING event_id, quantity
)
UPDATE events e SET booked_seats = e.booked_seats + m.seats
FROM (SELECT event_id, sum(quantity) AS seats FROM made GROUP BY event_id) m WHERE m.event_id = e.id
"""


def timed(client, url, headers, runs, warmup):
    for _ in range(warmup):
        response = client.get(url, headers=headers)
        assert response.status_code == 200, (url, response.get_json())
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url, headers=headers)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.get_json())
    return statistics.median(samples), max(samples)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--bookings", type=int, default=500_000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--delta", type=int, default=500, help="bookings made and cancelled after the rollup")
    parser.add_argument("--reuse", action="store_true", help="reuse the seeded database")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    if not args.reuse:
        recreate_database(url)
    app = create_app("development", SQLALCHEMY_DATABASE_URI=url.replace("postgresql://", "postgresql+psycopg2://", 1),
                     REDIS_URL=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12"),
                     RATELIMIT_ENABLED=False, EVENTLY_ADMIN_EMAIL=None, LOG_LEVEL="WARNING")
    with app.app_context():
        from evently.analytics import demo, rollup
        from evently.auth import sessions
        from evently.auth.models import User

        if not args.reuse:
            upgrade(directory=os.path.join(ROOT, "migrations"))
            started = time.monotonic()
            report = demo.seed_demo(events=args.events, users=args.users, bookings=args.bookings, seed=args.seed)
            print(f"seed: {report.bookings} bookings ({report.cancelled} cancelled, {report.promotions} promotions), "
                  f"{report.users} users, {report.events} events, {report.waiting_entries} waiting entries "
                  f"in {time.monotonic() - started:.1f}s {report.timings}")
        admin = db.session.scalar(db.select(User).where(User.role == "admin").limit(1))
        if admin is None:
            admin = User(email="bench-admin@evently.local", name="Bench", role="admin", password_hash="x")
            db.session.add(admin)
            db.session.commit()
        session = sessions.open_session(user_id=admin.id, verified_hash=admin.password_hash)
        db.session.commit()
        headers = {"Authorization": f"Bearer {session.access_token}"}

        started = time.monotonic()
        full = rollup.run_rollup(full=True)
        full_s = time.monotonic() - started
        print(f"full rollup: {full_s:.2f}s ({full.event_day_rows} event-day rows, {full.user_rows} user rows written)")
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
        started = time.monotonic()
        rollup.run_rollup()
        noop_s = time.monotonic() - started

        top_event = db.session.execute(text(
            "SELECT event_id FROM analytics_event_daily GROUP BY event_id ORDER BY sum(tickets) DESC LIMIT 1")).scalar()
        year_ago = db.session.execute(text("SELECT (now() - interval '364 days')::date")).scalar().isoformat()
        counts = db.session.execute(text("SELECT (SELECT count(*) FROM bookings), (SELECT count(*) FROM users), "
                                         "(SELECT count(*) FROM events), (SELECT count(*) FROM analytics_event_daily)"
                                         )).one()
        db.session.commit()
        urls = [endpoint.format(top_event=top_event, year_ago=year_ago) for endpoint in ENDPOINTS]
        client = app.test_client()

        results = {url: [timed(client, url, headers, args.runs, args.warmup)] for url in urls}

        with db.engine.begin() as connection:
            for statement in DELTA_SQL.split(";\n"):
                connection.execute(text(statement), {"count": args.delta})
        for url in urls:
            results[url].append(timed(client, url, headers, args.runs, args.warmup))
        started = time.monotonic()
        incremental = rollup.run_rollup()
        incremental_s = time.monotonic() - started

    print(f"\ndataset: {counts[0]} bookings, {counts[1]} users, {counts[2]} events, "
          f"{counts[3]} analytics_event_daily rows; {args.runs} warm runs per endpoint\n")
    print("| endpoint | p50 ms (rolled up) | max ms (rolled up) | p50 ms (delta) | max ms (delta) |")
    print("|---|---:|---:|---:|---:|")
    for url, ((p50, worst), (delta_p50, delta_worst)) in results.items():
        print(f"| `GET {url}` | {p50:.1f} | {worst:.1f} | {delta_p50:.1f} | {delta_worst:.1f} |")
    print(f"\nrollup: full rebuild {full_s * 1000:.0f} ms; no-op incremental {noop_s * 1000:.0f} ms; "
          f"incremental after {args.delta} new bookings + {args.delta} cancellations {incremental_s * 1000:.0f} ms "
          f"({incremental.event_day_rows} event-day rows, {incremental.user_rows} user rows rewritten)")


if __name__ == "__main__":
    main()
