"""CPU per request, per endpoint, in-process: which endpoint costs what.

    .venv/bin/python -m bench.request_cost                 # ~40 s
    .venv/bin/python -m bench.request_cost --requests 3000 --rounds 5

Where a request's CPU goes, per endpoint, without an HTTP server or a load
tool: this calls the WSGI app directly, one request at a time, on the bench
database, and reports the Flask process's CPU and the PostgreSQL backends'
CPU per request (the median of several rounds, and the app's range). On this
VM the range is wide (rounds of the same code differ by up to 30-40%), so it
tells which endpoint costs what and where a profile should look, not a small
before/after; for those, read shares inside one py-spy profile
(`make bench BENCH_ARGS="--profile"`).
"""
import argparse
import json
import os
import random
import sys
import time

from werkzeug.test import EnvironBuilder

os.environ["LOG_LEVEL"] = "WARNING"  # as gunicorn runs in the benchmark: no access log line per request

from bench import flash_sale  # noqa: E402  sets the benchmark's environment before evently is imported
from bench.flash_sale import (DATABASE_URL, hot_event, own_cpu_seconds, postgres_cpu_seconds,  # noqa: E402
                               prepare_database, wipe)
from evently import create_app  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=600, help="requests per endpoint and round")
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds per endpoint (the median is kept)")
    args = parser.parse_args()
    print(f"database {DATABASE_URL}")
    prepare_database()
    app = create_app()
    accounts = args.requests * args.rounds
    with app.app_context():
        wipe()
        flash_sale.filler_events()
        with open(flash_sale.seed_accounts(app, accounts).path) as lines:  # "user_id quantity token" lines
            tokens = [line.split()[2] for line in lines]
        # Half the bookings are seated, half waitlisted: both paths of a flash sale.
        events = [hot_event(args.requests // 2 * 2) for _ in range(args.rounds)]
    tokens = iter(tokens)
    warm(app, events[0])

    def booking(round_index):
        token = next(tokens)
        body = json.dumps({"eventId": events[round_index], "quantity": random.randint(1, 3)}).encode()
        return environ("POST", "/api/bookings", body=body, token=token)

    rows = [
        ("GET /api/events?perPage=20", lambda _r: environ("GET", "/api/events", query="perPage=20")),
        ("GET /api/events/:id", lambda _r: environ("GET", f"/api/events/{events[0]}")),
        ("POST /api/bookings", booking),
    ]
    print(f"\n{'':32}{'app CPU ms':>12}{'postgres CPU ms':>18}{'app range':>14}"
          f"   per request, median round of {args.rounds} x {args.requests}")
    for name, build in rows:
        costs = sorted(measure(app, build, round_index, args.requests) for round_index in range(args.rounds))
        app_cpu, postgres_cpu = costs[len(costs) // 2]
        spread = f"{costs[0][0]:.2f}-{costs[-1][0]:.2f}"
        print(f"{name:32}{app_cpu:12.3f}{postgres_cpu:18.3f}{spread:>14}")
    return 0


def environ(method, path, query="", body=b"", token=None):
    """A WSGI environ as a server would pass it, built by werkzeug (outside the timed loop)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return EnvironBuilder(method=method, path=path, query_string=query, data=body, headers=headers,
                          content_type="application/json" if body else None,
                          base_url="http://127.0.0.1:8000").get_environ()


def call(app, env):
    status = []
    chunks = app(env, lambda code, _headers, _exc=None: status.append(code))
    try:
        body = b"".join(chunks)
    finally:
        getattr(chunks, "close", lambda: None)()
    if not status[0].startswith(("200", "201")):
        raise RuntimeError(f"{env['REQUEST_METHOD']} {env['PATH_INFO']}: {status[0]} {body[:300]!r}")


def warm(app, event_id):
    for _ in range(50):
        call(app, environ("GET", "/api/events", query="perPage=20"))
        call(app, environ("GET", f"/api/events/{event_id}"))


def measure(app, build, round_index, count):
    """(app CPU ms, postgres CPU ms) per request over `count` sequential calls."""
    environs = [build(round_index) for _ in range(count)]
    postgres_before = postgres_cpu_seconds()
    before = own_cpu_seconds()
    for env in environs:
        call(app, env)
    own = own_cpu_seconds() - before
    postgres = postgres_cpu_seconds() - postgres_before
    return own * 1000 / count, postgres * 1000 / count


if __name__ == "__main__":
    started = time.time()
    code = main()
    print(f"\nwall time {time.time() - started:.0f} s")
    sys.exit(code)
