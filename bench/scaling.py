"""Expected bookings/s on 1, 2, 4 and 8 API machines, from the per-booking costs measured here.

    .venv/bin/python -m bench.scaling                       # ~1 minute, plus the hot-row point
    .venv/bin/python -m bench.scaling --hot-row 730 --postgres-cores 8

It books `--bookings` seats one request at a time through the real WSGI app (as
bench/request_cost.py does) on its own database and Redis DB, and measures per
booking: the API process's CPU (Flask and Evently; gunicorn's and the kernel's HTTP
work, measured by make bench's constant-page floor, is added as `--http-ms`), the
PostgreSQL backends' CPU, and Redis's own time (INFO commandstats: microseconds
Redis spent executing this run's commands). The hot-row ceiling is
bench/hot_row.py's "writer, one event" point at 8 clients, measured here unless
`--hot-row` gives it. The model then takes, for N API machines of `--api-cores`:

- API:        N x cores x 1000 / API ms per booking (stateless replicas: linear), the API's
              cost being the in-process one plus `--http-ms` for gunicorn's own work;
- Redis:      one hot event lives on one primary (its hash tag), single-threaded: 1000 / Redis ms;
              many events spread over `--redis-primaries`;
- PostgreSQL: `--postgres-cores` x 1000 / PostgreSQL ms per booking (the primary takes every write);
- hot row:    the one event row's guarded UPDATE, measured ceiling.

The expected rate is the smallest; the table says which one it is. See docs/scaling.md.
"""
import argparse
import json
import os
import random
import sys
import time

os.environ.setdefault("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/evently_scaling")
os.environ.setdefault("BENCH_REDIS_URL", "redis://127.0.0.1:6379/8")
os.environ["LOG_LEVEL"] = "WARNING"

from bench import flash_sale  # noqa: E402  sets the benchmark's environment before evently is imported
from bench.flash_sale import hot_event, own_cpu_seconds, postgres_cpu_seconds, prepare_database, wipe  # noqa: E402
from bench.request_cost import call, environ, warm  # noqa: E402
from evently import create_app  # noqa: E402
from evently.extensions import redis_client  # noqa: E402

MACHINES = (1, 2, 4, 8)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bookings", type=int, default=2000, help="bookings measured")
    parser.add_argument("--api-cores", type=int, default=os.cpu_count(), help="cores per API machine")
    parser.add_argument("--postgres-cores", type=int, default=8, help="cores of the PostgreSQL primary")
    parser.add_argument("--redis-primaries", type=int, default=3, help="Redis Cluster primaries")
    # The in-process cost leaves out gunicorn's own work per request; make bench's constant-page floor
    # measures it (its gunicorn CPU per request less Flask's in-process share; docs/scaling.md).
    parser.add_argument("--http-ms", type=float, default=0.35,
                        help="gunicorn's and the kernel's CPU per request, on top of the in-process cost")
    parser.add_argument("--hot-row", type=float, default=None,
                        help="the hot-row ceiling in bookings/s (default: measure it with bench/hot_row.py)")
    args = parser.parse_args()
    costs = measure_costs(args.bookings)
    costs["api_ms"] += args.http_ms
    hot_row = args.hot_row or measure_hot_row()
    print(f"\nper booking, median of 4 rounds of {args.bookings // 4}: API CPU {costs['api_ms']:.2f} ms "
          f"(with {args.http_ms} ms of HTTP server), "
          f"PostgreSQL CPU {costs['postgres_ms']:.2f} ms, Redis {costs['redis_ms'] * 1000:.0f} µs; "
          f"hot-row ceiling {hot_row:,.0f}/s")
    print_table(costs, hot_row, args)
    print("\n" + json.dumps({**costs, "hot_row": hot_row}))
    return 0


def measure_costs(bookings):
    prepare_database()
    app = create_app()
    with app.app_context():
        wipe()
        flash_sale.filler_events()
        with open(flash_sale.seed_accounts(app, bookings + 100).path) as lines:
            tokens = [line.split()[2] for line in lines]
        event_id = hot_event(10**6)  # every booking is seated: the path that writes
    warm(app, event_id)
    tokens = iter(tokens)
    for _ in range(100):
        call(app, booking(event_id, next(tokens)))
    rounds = []
    for _ in range(4):
        requests = [booking(event_id, next(tokens)) for _ in range(bookings // 4)]
        with app.app_context():
            redis_before = redis_usec()
        postgres_before, api_before = postgres_cpu_seconds(), own_cpu_seconds()
        for request in requests:
            call(app, request)
        api, postgres = own_cpu_seconds() - api_before, postgres_cpu_seconds() - postgres_before
        time.sleep(0.2)  # the hold finisher's batch lands in Redis after the last answer
        with app.app_context():
            redis_spent = redis_usec() - redis_before
        count = len(requests)
        rounds.append({"api_ms": api * 1000 / count, "postgres_ms": postgres * 1000 / count,
                       "redis_ms": redis_spent / 1000 / count})
    return {name: sorted(r[name] for r in rounds)[len(rounds) // 2] for name in rounds[0]}


def booking(event_id, token):
    body = json.dumps({"eventId": event_id, "quantity": random.randint(1, 3)}).encode()
    return environ("POST", "/api/bookings", body=body, token=token)


def redis_usec():
    """Microseconds the Redis server has spent executing commands (all clients: run it quiet)."""
    return sum(stats["usec"] for stats in redis_client.info("commandstats").values())


def measure_hot_row():
    from bench import hot_row

    events, user_id = hot_row.prepare(8)
    return hot_row.run(hot_row.writer_client, 8, 4.0, [events[0]] * 8, user_id)["rate"]


def print_table(costs, hot_row, args):
    redis_one = 1000 / costs["redis_ms"]
    postgres = args.postgres_cores * 1000 / costs["postgres_ms"]
    print(f"\nexpected bookings/s: API machines of {args.api_cores} cores, a {args.postgres_cores}-core "
          f"PostgreSQL primary, {args.redis_primaries} Redis primaries")
    print(f"{'API machines':>12}{'API':>9}{'Redis':>9}{'PostgreSQL':>12}{'hot row':>9}"
          f"{'one hot event':>15}{'many events':>13}   first to saturate (one event / many)")
    for machines in MACHINES:
        api = machines * args.api_cores * 1000 / costs["api_ms"]
        one = {"API": api, "Redis primary": redis_one, "PostgreSQL CPU": postgres, "hot row": hot_row}
        many = {"API": api, "Redis": redis_one * args.redis_primaries, "PostgreSQL CPU": postgres}
        one_limit, many_limit = min(one, key=one.get), min(many, key=many.get)
        print(f"{machines:>12}{api:9,.0f}{redis_one:9,.0f}{postgres:12,.0f}{hot_row:9,.0f}"
              f"{one[one_limit]:15,.0f}{many[many_limit]:13,.0f}   {one_limit} / {many_limit}")


if __name__ == "__main__":
    started = time.time()
    code = main()
    print(f"\nwall time {time.time() - started:.0f} s")
    sys.exit(code)
