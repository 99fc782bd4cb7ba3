"""The hot-row ceiling: how many bookings one event's row in PostgreSQL can take per second.

    .venv/bin/python -m bench.hot_row                      # ~3 minutes
    .venv/bin/python -m bench.hot_row --seconds 5 --clients 1,2,4,8,16

Every booking of an event ends in the guarded UPDATE of that event's row
(evently/seats/writer.py), which holds the row's lock from the statement to
COMMIT: one event can take at most 1 / (that time) bookings per second, however
many API machines and Redis primaries stand in front of it. This measures, with
1..16 concurrent clients (processes, each its own connection):

- `writer, one event`: Evently's own writer statement + COMMIT, every client on
  one event: the ceiling of a single hot event in Evently;
- `writer, own events`: the same, each client on its own event: what the machine
  does when no row is shared (CPU-bound instead);
- `bare UPDATE, one row`: the guarded UPDATE alone + COMMIT on one row: PostgreSQL's
  own ceiling for one row, without Evently's inserts;
- `bare UPDATE, 4 rows`: a seat counter sharded over 4 rows (clients spread over them);
- `batched k`: k bookings' seats added by one guarded UPDATE per COMMIT (seats/s).

It uses its own database (evently_hotrow, BENCH_DATABASE_URL), rebuilt from the
migrations and wiped on every run. Results: docs/scaling.md.
"""
import argparse
import multiprocessing
import os
import statistics
import sys
import time
import uuid
from types import SimpleNamespace

os.environ.setdefault("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/evently_hotrow")
os.environ["LOG_LEVEL"] = "WARNING"

from bench.flash_sale import DATABASE_URL, hot_event, prepare_database, wipe  # noqa: E402
from evently import create_app  # noqa: E402

EVENT_COLUMNS = ("id", "revision", "title", "starts_at", "timezone", "price", "currency")
SHARDS = 4
GUARD = ("UPDATE events SET booked_seats = booked_seats + %(n)s "
         "WHERE id = %(id)s AND booked_seats + %(n)s <= capacity AND status = 'published'")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="measured seconds per point")
    parser.add_argument("--clients", default="1,2,4,8,16", help="concurrent clients per point")
    parser.add_argument("--batches", default="1,8,32", help="bookings per COMMIT for the batched rows")
    args = parser.parse_args()
    clients = [int(n) for n in args.clients.split(",")]
    print(f"database {DATABASE_URL}; {os.cpu_count()} cores; {args.seconds:g} s per point")
    events, user_id = prepare(max(clients))

    rows = {
        "writer, one event": [run(writer_client, n, args.seconds, [events[0]] * n, user_id) for n in clients],
        "writer, own events": [run(writer_client, n, args.seconds, events[:n], user_id) for n in clients],
        "bare UPDATE, one row": [run(guard_client, n, args.seconds, [events[0]] * n, 1) for n in clients],
        f"bare UPDATE, {SHARDS} rows": [run(guard_client, n, args.seconds,
                                            [events[i % SHARDS] for i in range(n)], 1) for n in clients],
    }
    print(f"\n{'per second, by concurrent clients':34}" + "".join(f"{n:>9}" for n in clients))
    for name, points in rows.items():
        print(f"{name:34}" + "".join(f"{point['rate']:9.0f}" for point in points))
    widest = max(clients)
    print(f"\nbatched: seats/s through one row, {widest} clients, k bookings' seats per guarded UPDATE + COMMIT")
    for k in (int(n) for n in args.batches.split(",")):
        point = run(guard_client, widest, args.seconds, [events[0]] * widest, k)
        print(f"  k = {k:<3} {point['rate'] * k:9.0f} seats/s ({point['rate']:.0f} commits/s)")
    single = rows["writer, one event"][0]
    print(f"\none client, Evently's writer: {single['ms']:.2f} ms per booking (statement + COMMIT, median)")
    return 0


def prepare(count):
    prepare_database()
    app = create_app()
    with app.app_context():
        wipe()
        from evently.extensions import db
        from sqlalchemy import text

        with db.engine.begin() as connection:
            user_id = connection.execute(text(
                "INSERT INTO users (email, name, password_hash, role) "
                "VALUES ('hot@bench.evently', 'Hot', 'x', 'user') RETURNING id")).scalar()
        events = [hot_event(10**9) for _ in range(max(count, SHARDS))]
        db.engine.dispose()
    return events, user_id


def run(target, clients, seconds, event_ids, argument):
    """Start `clients` processes, let them connect, then count what they do in `seconds`."""
    context = multiprocessing.get_context("spawn")
    ready, go, results = context.Semaphore(0), context.Event(), context.Queue()
    processes = [context.Process(target=target, args=(event_ids[i], argument, seconds, ready, go, results))
                 for i in range(clients)]
    for process in processes:
        process.start()
    for _ in processes:
        ready.acquire(timeout=60)
    go.set()
    outcomes = [results.get(timeout=seconds + 60) for _ in processes]
    for process in processes:
        process.join(30)
    latencies = sorted(latency for _count, sample in outcomes for latency in sample)
    return {"rate": sum(count for count, _sample in outcomes) / seconds,
            "ms": statistics.median(latencies) * 1000 if latencies else 0.0}


def writer_client(event_id, user_id, seconds, ready, go, results):
    """Evently's writer: the booking's one statement (claim, booking, tickets, notice, guard) + COMMIT."""
    from evently.extensions import db
    from evently.events.models import Event
    from evently.seats import writer

    app = create_app()
    with app.app_context():
        row = db.session.get(Event, event_id)
        event = SimpleNamespace(**{name: getattr(row, name) for name in EVENT_COLUMNS})
        db.session.commit()
        ready.release()
        go.wait(60)
        count, sample, deadline = 0, [], time.monotonic() + seconds
        while time.monotonic() < deadline:
            started = time.perf_counter()
            writer.write(event=event, user_id=user_id, hold_id=uuid.uuid4().hex, taken=1)
            db.session.commit()
            count += 1
            if count % 10 == 0:
                sample.append(time.perf_counter() - started)
        db.engine.dispose()
    results.put((count, sample))


def guard_client(event_id, seats, seconds, ready, go, results):
    """The guarded UPDATE alone, adding `seats` per COMMIT."""
    import psycopg2

    connection = psycopg2.connect(DATABASE_URL)
    cursor = connection.cursor()
    ready.release()
    go.wait(60)
    count, sample, deadline = 0, [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        cursor.execute(GUARD, {"n": seats, "id": event_id})
        connection.commit()
        count += 1
        if count % 10 == 0:
            sample.append(time.perf_counter() - started)
    connection.close()
    results.put((count, sample))


if __name__ == "__main__":
    started = time.time()
    code = main()
    print(f"\nwall time {time.time() - started:.0f} s")
    sys.exit(code)
