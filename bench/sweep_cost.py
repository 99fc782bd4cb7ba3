"""What one outbox sweep costs when there is (almost) nothing to send.

    .venv/bin/python -m bench.sweep_cost             # ~20 s
    .venv/bin/python -m bench.sweep_cost --sent 1000000

Beat runs `notifications.sweep` every OUTBOX_SWEEP_SECONDS on the maintenance
queue. The relay delivers nearly every row within a second of its commit, so a
sweep usually finds nothing; this measures what finding nothing costs as the
table of sent rows grows, and what a sweep that re-sends a few rows costs: the
query's wall time and the app's CPU per sweep, and PostgreSQL's plan. Uses the
flash-sale benchmark's database (its notifications and users are emptied);
Redis is not touched. The decision it informed is in docs/reliability.md
("The outbox sweep").
"""
import argparse
import time


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sent", type=int, default=200_000, help="rows already sent (the history a sweep skips)")
    parser.add_argument("--runs", type=int, default=500)
    args = parser.parse_args()
    from bench.flash_sale import prepare_database
    from evently import create_app
    from evently.extensions import db

    prepare_database()
    app = create_app()
    with app.app_context():
        for sent, due in ((0, 0), (args.sent, 0), (args.sent, 50)):
            fill(db, sent=sent, due=due)
            wall, cpu, found, plan = measure(db, args.runs)
            print(f"{sent:>9,} sent, {due:>3} due: {found} found; {wall:.3f} ms wall, {cpu:.3f} ms app CPU per sweep"
                  f" query; PostgreSQL: {plan}")
        fill(db, sent=0, due=0)
    return 0


def fill(db, *, sent, due):
    from sqlalchemy import text

    db.session.execute(text("TRUNCATE notifications, users RESTART IDENTITY CASCADE"))
    db.session.execute(text("INSERT INTO users (email, name, password_hash, role) "
                            "VALUES ('sweep@bench.evently', 'Sweep', 'x', 'user')"))
    db.session.execute(text(
        "INSERT INTO notifications (user_id, kind, dedupe_key, subject, body, status, attempts, next_attempt_at,"
        " created_at, updated_at) SELECT 1, 'booking_confirmed', 'bench:' || n, 'Subject', 'Body',"
        " CASE WHEN n <= :due THEN 'pending' ELSE 'sent' END, 1, now() - interval '1 hour',"
        " now() - interval '1 hour', now() - interval '1 hour' FROM generate_series(1, :total) n"),
        {"due": due, "total": sent + due})
    db.session.commit()
    db.session.execute(text("ANALYZE notifications"))
    db.session.commit()


def measure(db, runs):
    from sqlalchemy import text

    from evently.notifications import services

    for _ in range(20):
        services.due_notifications()
    cpu_start, wall_start = time.process_time(), time.perf_counter()
    for _ in range(runs):
        found = len(services.due_notifications())
    wall = (time.perf_counter() - wall_start) / runs * 1000
    cpu = (time.process_time() - cpu_start) / runs * 1000
    plan = db.session.execute(text(
        "EXPLAIN (ANALYZE, COSTS OFF) SELECT id FROM notifications WHERE status = 'pending'"
        " AND next_attempt_at <= now() AND updated_at <= now() - interval '10 seconds'"
        " ORDER BY next_attempt_at LIMIT 500")).scalars().all()
    db.session.rollback()
    scan = next((line.strip() for line in plan if "Scan" in line), plan[0].strip())
    return wall, cpu, found, f"{scan}; {plan[-1].strip()}"


if __name__ == "__main__":
    raise SystemExit(main())
