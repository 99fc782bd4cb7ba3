"""Reconcile of one hot event with a long waitlist: what it costs the sale around it.

    .venv/bin/python -m bench.reconcile_bench                      # ~40 s: 20,000 waiters
    .venv/bin/python -m bench.reconcile_bench --waiters 50000 --runs 9
    .venv/bin/python -m bench.reconcile_bench --app-dir /tmp/base  # another checkout (before/after)

Beat runs `seats.reconcile_all` every RECONCILE_INTERVAL_SECONDS. While it
corrects an event it holds the event's row lock, and every booking and join of
that event waits; any single Redis command it sends makes every other Redis
client wait (all events' gates, the rate limiter, the Celery broker). So this
reports, per run on an event whose gate already agrees with PostgreSQL (the
common case: there is nothing to correct, and finding that out is the cost):
the wall time, how long the row lock was held (from the SELECT ... FOR UPDATE
to the COMMIT, by SQLAlchemy event hooks) and the longest single Redis command
(Redis's SLOWLOG with a 0 threshold, restored afterwards). Uses the flash-sale
benchmark's database and Redis DB (wiped).
"""
import argparse
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--waiters", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=7, help="measured runs (the median is printed), after 2 warm-ups")
    parser.add_argument("--app-dir", default=ROOT, help="import evently from another checkout")
    args = parser.parse_args()
    sys.path.insert(0, os.path.abspath(args.app_dir))  # before the imports below: they pick the checkout
    from bench.flash_sale import prepare_database

    prepare_database()
    app, event_id = seed(args.waiters)
    with app.app_context():
        samples = [measure(event_id) for _ in range(args.runs + 2)][2:]
    wall, held, longest = (statistics.median(sample[i] for sample in samples) for i in range(3))
    print(f"reconcile of one event, {args.waiters:,} waiters, nothing to correct (median of {args.runs}, "
          f"{args.app_dir}):\n  wall {wall:.1f} ms, event row locked {held:.1f} ms, "
          f"longest Redis command {longest:.1f} ms")
    return 0


def seed(waiters):
    """A sold-out event with `waiters` waiting entries (one per seeded user) and its gate."""
    from sqlalchemy import text

    from bench import flash_sale
    from evently import create_app
    from evently.extensions import db
    from evently.seats import gate

    app = create_app()
    with app.app_context():
        flash_sale.wipe()
        flash_sale.seed_accounts(app, waiters)
        event_id = flash_sale.hot_event(10)
        db.session.execute(text("UPDATE events SET booked_seats = capacity WHERE id = :event_id"),
                           {"event_id": event_id})
        db.session.execute(text(
            "INSERT INTO waitlist_entries (event_id, user_id, quantity_requested, quantity_remaining, allow_partial, "
            "gate_key) SELECT :event_id, id, 1, 1, true, 'bench-' || id FROM users WHERE role = 'user'"
        ), {"event_id": event_id})
        db.session.commit()
        gate.close(gate.ref(event_id))
        gate.rebuild(gate.ref(event_id))
    return app, event_id


def measure(event_id):
    """(wall ms, row lock held ms, longest Redis command ms) of one reconcile."""
    from sqlalchemy import event

    from evently.extensions import db, redis_client
    from evently.seats import reconcile

    marks = {}

    def on_execute(_conn, _cursor, statement, *_args):
        if "FOR UPDATE" in statement:
            marks["locked"] = time.perf_counter()

    def on_commit(_conn):
        if "locked" in marks:
            marks["held"] = time.perf_counter() - marks.pop("locked")

    threshold = redis_client.config_get("slowlog-log-slower-than")["slowlog-log-slower-than"]
    length = redis_client.config_get("slowlog-max-len")["slowlog-max-len"]
    event.listen(db.engine, "before_cursor_execute", on_execute)
    event.listen(db.engine, "commit", on_commit)
    try:
        redis_client.config_set("slowlog-max-len", 100000)
        redis_client.slowlog_reset()
        redis_client.config_set("slowlog-log-slower-than", 0)
        started = time.perf_counter()
        report = reconcile.reconcile_event(event_id=event_id)
        wall = time.perf_counter() - started
        longest = max(entry["duration"] for entry in redis_client.slowlog_get(100000)) / 1000
    finally:
        redis_client.config_set("slowlog-log-slower-than", threshold)
        redis_client.config_set("slowlog-max-len", length)
        event.remove(db.engine, "before_cursor_execute", on_execute)
        event.remove(db.engine, "commit", on_commit)
    if report.corrected:
        raise SystemExit(f"reconcile corrected a gate that agreed with PostgreSQL: {vars(report)}")
    return wall * 1000, marks["held"] * 1000, longest


if __name__ == "__main__":
    sys.exit(main())
