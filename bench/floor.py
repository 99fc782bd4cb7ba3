"""What this machine can do at best: two floors measured through Flask on gunicorn.

    make bench-floor                      # ~40 s
    .venv/bin/python -m bench.floor --duration 20 --connections 48

The same server (gunicorn sync, gunicorn.conf.py's worker count), load tool
(wrk with bench/load.lua, 48 connections, no think time), database and Redis as
`make bench`, but an app that does only the least work (bench/floor_app.py):

- book: one Lua call + one autocommit INSERT, the two round trips a booking
  cannot avoid (no auth, validation, hold ledger, outbox or guard);
- get: a constant ~10 kB JSON page, what a cached event list is at best.

The flash-sale goals are judged against these numbers: the real endpoints do
strictly more. `make bench` measures them too, right after its strategies, and
reports the bookings goal as a share of the booking floor.
"""
import argparse
import os
import random
import sys
import time

import psycopg2
import redis

from bench.flash_sale import BIN, DATABASE_URL, REDIS_URL, WORK, Processes, Stream, group_cpu_seconds, run_load
from bench.loopback import free_port, wait_http
from evently.dbsetup import ensure_database

FLOORS = {"book": ("POST /book", "one Lua call + one INSERT"), "get": ("GET /static-list", "a constant JSON page")}
ACCOUNTS = 1000  # the floor app reads only the quantity; the token column is a placeholder


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=15, help="seconds of load per floor")
    parser.add_argument("--connections", type=int, default=48)
    args = parser.parse_args()
    os.makedirs(WORK, exist_ok=True)
    processes = Processes()
    try:
        results = measure_floors(processes, args.duration, args.connections)
    finally:
        processes.stop_all()
    print_floors(results, args.duration, args.connections)
    return 0 if floors_held(results) else 1


def measure_floors(processes, duration, connections):
    """wrk's stats for each floor (keyed as FLOORS), and the rows the booking floor wrote."""
    ensure_database(DATABASE_URL)
    with psycopg2.connect(DATABASE_URL) as connection, connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_floor; "
                       "CREATE TABLE bench_floor (id bigserial PRIMARY KEY, quantity int NOT NULL, "
                       "created_at timestamptz NOT NULL DEFAULT now())")
    redis.Redis.from_url(REDIS_URL).delete("bench-floor:{event:1}")

    port = free_port()
    env = {"FLOOR_DATABASE_URL": DATABASE_URL, "FLOOR_REDIS_URL": REDIS_URL, "PORT": str(port), "HOST": "127.0.0.1"}
    results = {}
    try:
        server = processes.start("floor-gunicorn", [os.path.join(BIN, "gunicorn"), "--config", "gunicorn.conf.py",
                                                    "bench.floor_app:app"], env=env, log="floor-gunicorn")
        wait_http(f"http://127.0.0.1:{port}/healthz")
        accounts = write_accounts()
        for mix, (name, _what) in FLOORS.items():
            results[mix] = run_floor(processes, port, name, duration, connections, server, accounts)
    finally:
        processes.stop("floor-gunicorn")
    with psycopg2.connect(DATABASE_URL) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM bench_floor")
        results["rows"] = cursor.fetchone()[0]
        cursor.execute("DROP TABLE bench_floor")
    return results


def print_floors(results, duration, connections):
    workers = os.environ.get("WEB_CONCURRENCY", (os.cpu_count() or 1) + 1)  # as gunicorn.conf.py
    print(f"\nfloors through Flask on gunicorn sync x{workers}, wrk {connections} connections, {duration} s each")
    for mix, (_name, what) in FLOORS.items():
        stats = results[mix]
        print(f"  {what:28s} {stats['rps']:7,.0f} req/s, p50 {stats['p50']:.0f} ms, p95 {stats['p95']:.0f} ms, "
              f"p99 {stats['p99']:.0f} ms, failures {stats['failures']}; CPU ms per request: "
              f"gunicorn {stats['gunicornCpuMs']:.2f}, wrk {stats['wrkCpuMs']:.2f}")
    # A request still in flight when wrk stops may insert without being counted: rows >= answers.
    print(f"  rows written {results['rows']} for {results['book']['count']} booking answers counted")


def floors_held(results):
    """No failed request, and every counted booking answer has its row."""
    return not any(results[mix]["failures"] for mix in FLOORS) and results["rows"] >= results["book"]["count"]


def write_accounts():
    path = os.path.join(WORK, "floor-accounts.txt")
    with open(path, "w") as out:
        out.writelines(f"{n} {random.randint(1, 4)} -\n" for n in range(1, ACCOUNTS + 1))
    return path


def run_floor(processes, port, name, duration, connections, server, accounts):
    """wrk's stats for one floor, plus the CPU per request of the server and of wrk itself."""
    method, path = name.split(" ")
    stream = Stream(name, path, connections, post_as=accounts if method == "POST" else None)
    server_before = group_cpu_seconds(server)
    load = run_load(processes, f"http://127.0.0.1:{port}", [stream], duration, f"floor-{path.strip('/')}")
    stats = load["stats"][name]
    requests = max(stats["count"], 1)
    stats["rps"] = stats["count"] / (load["lastAt"] - load["firstAt"])
    stats["gunicornCpuMs"] = (group_cpu_seconds(server) - server_before) * 1000 / requests
    stats["wrkCpuMs"] = load["cpu"] * 1000 / requests
    return stats


if __name__ == "__main__":
    started = time.time()
    code = main()
    print(f"total wall time {time.time() - started:.0f} s")
    sys.exit(code)
