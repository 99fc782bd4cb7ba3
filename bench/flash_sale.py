"""Flash-sale benchmark: the real stack (gunicorn + Celery worker) on loopback, driven by wrk.

    make bench                                   # both strategies, side by side (~2 minutes)
    .venv/bin/python -m bench.flash_sale --duration 30 --connections 64 --strategies redis
    .venv/bin/python -m bench.flash_sale --profile   # py-spy samples the gunicorn workers' CPU (raw stacks in /tmp/evently-flash-bench)

It uses its own database (evently_flash, from BENCH_DATABASE_URL) and Redis DB
index 7 (BENCH_REDIS_URL), rebuilt from the migrations and wiped on every run,
so it never touches development or test data. For each strategy (`redis`: the
Lua gate; `pglock`: lock the event row in PostgreSQL, no gate) it seeds a
fresh hot event whose capacity is far below demand, starts gunicorn and a
Celery worker, runs wrk (bench/load.lua: one fresh account per booking of 1-4
tickets, plus reads of the event list and detail), stops the server, and
checks the outcome in PostgreSQL and Redis against every 201 the clients got.
Then it measures this machine's floors (bench/floor.py) and prints one table
with the strategies side by side, the floors, and the issue's goals.

Every process it starts is stopped on the way out, whatever happens.
"""
import argparse
import json
import os
import resource
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
WORK = os.environ.get("BENCH_WORK_DIR", "/tmp/evently-flash-bench")
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/evently_flash")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7")

# The server, the worker and this process all read these; set before config is imported.
BENCH_ENV = {
    "EVENTLY_ENV": "development",
    "DATABASE_URL": DATABASE_URL,
    "REDIS_URL": REDIS_URL,
    "RATELIMIT_STORAGE_URI": REDIS_URL,
    "CELERY_BROKER_URL": REDIS_URL,
    "CELERY_RESULT_BACKEND": REDIS_URL,
    # One client address sends everything here; per-IP limits would measure the limiter, not the engine.
    "RATELIMIT_ENABLED": "false",
    "JWT_ACCESS_MINUTES": "120",
    # The tokens seeded here must verify in a server that may run another checkout's code
    # (--app-dir), whose instance folder would hold another generated key.
    "JWT_SECRET_KEY": secrets.token_urlsafe(48),
    "EVENTLY_ADMIN_EMAIL": "",
    "FLASK_APP": "wsgi",
    "HOST": "127.0.0.1",
    # No worker metrics endpoint: a benchmark beside `make run` must not contend for its port.
    "WORKER_METRICS_PORT": "0",
}
os.environ.update(BENCH_ENV)
sys.path.insert(0, ROOT)

from sqlalchemy import text  # noqa: E402

from bench.loopback import free_port, wait_http  # noqa: E402
from evently import create_app  # noqa: E402
from evently.dbsetup import ensure_database  # noqa: E402
from evently.auth import liveness  # noqa: E402
from evently.extensions import db, redis_client  # noqa: E402

ENDPOINTS = ("POST /api/bookings", "GET /api/events", "GET /api/events/:id")
# The goals (docs/benchmarks.md), as ratios to this machine's floors measured in the same run
# (bench/floor.py), because machines of this kind differ by up to 3x and carry ratios, not rates.
# Reported, not enforced: the exit status says whether the invariants held.
GOAL_BOOKINGS_SHARE_OF_FLOOR = 0.50  # of one Lua call + one INSERT through Flask
GOAL_LIST_SHARE_OF_FLOOR = 0.80  # of a constant JSON page through Flask
GOAL_BOOKINGS_P99_MS = 200
GOAL_METRICS_SHARE = 0.02  # the metrics' CPU, of a request's gunicorn CPU in the sale
LIST_PATH = "/api/events?perPage=20"
LOAD_SCRIPT = os.path.join(ROOT, "bench", "load.lua")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strategies", default="redis,pglock")
    parser.add_argument("--duration", type=int, default=25, help="seconds of flash-sale load per strategy")
    parser.add_argument("--read-duration", type=int, default=10,
                        help="seconds of list-only load (once, on the first strategy's server); 0 skips it")
    parser.add_argument("--connections", type=int, default=48,
                        help="concurrent clients, 70%% booking and 30%% reading (closed loop, no think time)")
    parser.add_argument("--capacity", type=int, default=2000, help="seats of the hot event")
    parser.add_argument("--accounts", type=int, default=30000,
                        help="distinct seeded users (one per booking request, reused in turn if the run outlasts them)")
    parser.add_argument("--workers", type=int, default=None, help="gunicorn workers (default: gunicorn.conf.py)")
    parser.add_argument("--worker-class", default=None, help="gunicorn worker class (default: gunicorn.conf.py)")
    parser.add_argument("--threads", type=int, default=None, help="threads per gthread worker")
    parser.add_argument("--profile", action="store_true",
                        help="sample the gunicorn workers with py-spy, only while they hold the GIL: "
                             "CPU spent in Python, not time waiting on PostgreSQL or Redis")
    parser.add_argument("--floor-duration", type=int, default=10,
                        help="seconds per floor (bench/floor.py) measured after the strategies; 0 skips the floors")
    parser.add_argument("--app-dir", default=ROOT,
                        help="serve another checkout's code (e.g. `git archive` of a base commit) for before/after runs")
    args = parser.parse_args()
    strategies = [name.strip() for name in args.strategies.split(",") if name.strip()]
    os.makedirs(WORK, exist_ok=True)

    started = time.time()
    processes = Processes()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        print(f"database {DATABASE_URL}, redis {REDIS_URL}")
        prepare_database()
        app = create_app()
        with app.app_context():
            accounts = seed_accounts(app, args.accounts)
            filler_events()
        results = []
        for index, strategy in enumerate(strategies):
            reads = args.read_duration if index == 0 else 0
            results.append(run_strategy(app, processes, strategy, args, accounts, reads))
        floors = measure_floors(processes, args) if args.floor_duration else None
        metrics_us = metrics_cost_us()
        print_table(results, args, floors, metrics_us)
        print(f"\ntotal wall time {time.time() - started:.0f} s")
        failed = [r["strategy"] for r in results if not all(ok for _name, ok, _detail in r["checks"])]
        if failed:
            print(f"INVARIANTS FAILED for: {', '.join(failed)}", file=sys.stderr)
            return 1
        return 0
    finally:
        processes.stop_all()


def metrics_cost_us():
    """CPU µs a request spends on its Prometheus metrics in multiprocess mode, as gunicorn
    runs them (bench/metrics_cost.py), measured in a fresh interpreter of this run."""
    child = subprocess.run([sys.executable, "-m", "bench.metrics_cost", "--child", "multiprocess"], cwd=ROOT,
                           capture_output=True, text=True, check=True)
    return float(child.stdout)


def measure_floors(processes, args):
    """This machine's floors, measured right after the strategies: a run is read against the
    floor of the same minutes, because machines of this kind differ by up to 3x and one machine's
    floor by up to 2x within an hour."""
    print(f"\n== floors ({args.floor_duration} s each) ==")
    try:
        return _floor_bench().measure_floors(processes, args.floor_duration, args.connections)
    except Exception as error:  # the floors only put the run in context: their failure must not hide its table
        print(f"  the floors could not be measured ({error!r}); see {WORK}/floor-gunicorn.log", file=sys.stderr)
        return None


def _floor_bench():
    """bench.floor, imported on use: it builds on this module's helpers, so a top-level import would be circular."""
    from bench import floor

    return floor


# ---------------------------------------------------------------- processes

class Processes:
    """Everything this run started, stopped by process group on the way out."""

    def __init__(self):
        self.running = {}

    def start(self, name, argv, env=None, log=None, cwd=ROOT):
        out = open(os.path.join(WORK, f"{log or name}.log"), "w")
        process = subprocess.Popen(argv, cwd=cwd, env={**os.environ, **(env or {})}, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        self.running[name] = (process, out)
        return process

    def stop(self, name, grace=15):
        process, out = self.running.pop(name, (None, None))
        if process is None:
            return
        if process.poll() is None:
            _signal_group(process, signal.SIGTERM)
            try:
                process.wait(grace)
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait(5)
        _signal_group(process, signal.SIGKILL)  # stragglers left in the group
        out.close()

    def wait(self, name, timeout):
        """Let a process finish on its own (for up to `timeout` s), then stop and reap it."""
        process, _out = self.running[name]
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        self.stop(name)

    def stop_all(self):
        for name in list(self.running):
            self.stop(name)


def _signal_group(process, sig):
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass


def group_cpu_seconds(process):
    """User+system CPU of a process and its children so far."""
    import psutil

    try:
        root = psutil.Process(process.pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def own_cpu_seconds(children=False):
    """User+system CPU of this process (or of its waited-for children) so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def machine_busy_seconds():
    """CPU seconds all cores spent not idle, from /proc/stat."""
    with open("/proc/stat") as src:
        fields = [int(value) for value in src.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds():
    """CPU of the PostgreSQL backends serving the benchmark database (other suites share the server)."""
    import psutil

    database = DATABASE_URL.rsplit("/", 1)[-1]
    total = 0.0
    for proc in psutil.process_iter(["username", "cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if proc.info["username"] == "postgres" and f" {database} " in f"{cmdline} ":
            try:
                times = proc.cpu_times()
                total += times.user + times.system
            except psutil.NoSuchProcess:
                pass
    return total


# ---------------------------------------------------------------- data

def prepare_database():
    ensure_database(DATABASE_URL)
    subprocess.run([os.path.join(BIN, "flask"), "db", "upgrade"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL, env=os.environ)


def wipe():
    db.session.remove()
    tables = ", ".join(table.name for table in db.metadata.sorted_tables)
    with db.engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    redis_client.flushdb()


class Accounts:
    """The seeded buyers: a file for wrk ("user_id quantity token" lines) and the seats each one asks for."""

    def __init__(self, path, quantities):
        self.path, self.quantities = path, quantities

    def acknowledged(self, at, body):
        """What one 201 told its client, beside the seats that client asked for
        (known here from the seeding, not read from the answer)."""
        data = json.loads(body)["data"]
        booking, entry = data["booking"], data["waitlistEntry"]
        user_id = (booking or entry)["userId"]
        return {"userId": user_id, "requested": self.quantities[user_id],
                "booked": booking["quantity"] if booking else 0, "bookingId": booking and booking["id"],
                "waitlisted": entry["quantity"] if entry else 0, "entryId": entry and entry["id"], "at": at}


def seed_accounts(app, count):
    """`count` users (one shared password hash: logins are not what is measured), their tokens and 1-4 seats each."""
    import random

    from argon2 import PasswordHasher

    from evently.auth import sessions

    started = time.time()
    wipe()
    password_hash = PasswordHasher().hash("bench-password")
    with db.engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO users (email, name, password_hash, role) "
            "SELECT 'buyer' || n || '@bench.evently', 'Buyer ' || n, :hash, 'user' FROM generate_series(1, :count) n"
        ), {"hash": password_hash, "count": count})
        connection.execute(text(
            "INSERT INTO users (email, name, password_hash, role) VALUES ('admin@bench.evently', 'Admin', :hash, 'admin')"
        ), {"hash": password_hash})
        ids = [row[0] for row in connection.execute(text("SELECT id FROM users WHERE role = 'user' ORDER BY id"))]
    quantities = {user_id: random.randint(1, 4) for user_id in ids}
    path = os.path.join(WORK, "accounts.txt")
    with open(path, "w") as out:
        # One login session per buyer, as a real client would hold (every request checks it).
        for user_id in ids:
            token = sessions.open_session(user_id=user_id, verified_hash=password_hash).access_token
            out.write(f"{user_id} {quantities[user_id]} {token}\n")
    db.session.commit()
    print(f"seeded {count} accounts with tokens in {time.time() - started:.1f} s")
    return Accounts(path, quantities)


def filler_events():
    """19 other published events, so the list endpoint serves a full page of 20."""
    starts = datetime.now(timezone.utc) + timedelta(days=10)
    with db.engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO events (title, description, venue, starts_at, ends_at, capacity, price, currency, status) "
            "SELECT 'Concert ' || n, 'A night of music number ' || n, 'Hall ' || (n % 4), "
            "       :starts + n * interval '1 day', :starts + n * interval '1 day' + interval '3 hours', "
            "       500, 25.00, 'USD', 'published' FROM generate_series(1, 19) n"
        ), {"starts": starts})


def hot_event(capacity):
    starts = datetime.now(timezone.utc) + timedelta(days=30)
    with db.engine.begin() as connection:
        return connection.execute(text(
            "INSERT INTO events (title, description, venue, starts_at, ends_at, capacity, price, currency, status, "
            "max_per_booking) VALUES ('Flash sale', 'The hot one', 'Arena', :starts, :ends, :capacity, 49.90, "
            "'EUR', 'published', 10) RETURNING id"
        ), {"starts": starts, "ends": starts + timedelta(hours=3), "capacity": capacity}).scalar()


def reset_sale():
    """Forget the previous strategy's sale (bookings, waitlist, holds, outbox, gates), keep accounts
    (with the login sessions their tokens belong to, in PostgreSQL and as their logins left them
    in Redis) and filler events."""
    db.session.remove()
    with db.engine.begin() as connection:
        keep = {"users", "auth_sessions", "events", "alembic_version"}
        others = [t.name for t in db.metadata.sorted_tables if t.name not in keep]
        connection.execute(text(f"TRUNCATE {', '.join(others)} CASCADE"))
        connection.execute(text("DELETE FROM events WHERE title = 'Flash sale'"))
        connection.execute(text("UPDATE events SET booked_seats = 0"))
    sessions = liveness.key("")
    stale = [key for key in redis_client.scan_iter(count=1000) if not key.startswith(sessions)]
    for start in range(0, len(stale), 1000):
        redis_client.delete(*stale[start:start + 1000])


# ---------------------------------------------------------------- one strategy

def run_strategy(app, processes, strategy, args, accounts, read_duration):
    print(f"\n== strategy {strategy} ==")
    with app.app_context():
        reset_sale()
        event_id = hot_event(args.capacity)
    port = free_port()
    server_env = {"BOOKING_STRATEGY": strategy, "PORT": str(port), "LOG_LEVEL": "WARNING"}
    if args.workers:
        server_env["WEB_CONCURRENCY"] = str(args.workers)
    if args.worker_class:
        server_env["GUNICORN_WORKER_CLASS"] = args.worker_class
    if args.threads:
        server_env["GUNICORN_THREADS"] = str(args.threads)
    server = processes.start("gunicorn", [os.path.join(BIN, "gunicorn"), "--config", "gunicorn.conf.py", "wsgi:app"],
                             env=server_env, log=f"gunicorn-{strategy}", cwd=args.app_dir)
    worker = processes.start("celery", [os.path.join(BIN, "celery"), "-A", "celery_worker.celery", "worker",
                                        "--loglevel=WARNING", "--concurrency=1", "--pool=solo"],
                             env={"BOOKING_STRATEGY": strategy}, log=f"celery-{strategy}", cwd=args.app_dir)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base}/healthz")
        for _ in range(20):  # every worker imports lazily on its first requests
            urllib.request.urlopen(f"{base}/api/events/{event_id}", timeout=5).read()

        profiler = None
        if args.profile:
            profiler = processes.start("py-spy", [os.path.join(BIN, "py-spy"), "record", "--subprocesses", "--gil",
                                                  "--pid", str(server.pid), "--rate", "200", "--duration",
                                                  str(args.duration), "--format", "raw", "--output",
                                                  os.path.join(WORK, f"profile-{strategy}.txt")],
                                       log=f"py-spy-{strategy}")
        cpu_before = (group_cpu_seconds(server), group_cpu_seconds(worker), postgres_cpu_seconds())
        busy_before = machine_busy_seconds()
        flash = run_flash(processes, base, event_id, accounts, args.duration, args.connections, strategy)
        cpu_after = (group_cpu_seconds(server), group_cpu_seconds(worker), postgres_cpu_seconds())
        busy = machine_busy_seconds() - busy_before
        if profiler is not None:
            profiler.wait(args.duration + 30)
            processes.stop("py-spy")
        reads = None
        if read_duration:
            server_before = group_cpu_seconds(server)
            reads = run_load(processes, base, [Stream("GET /api/events", LIST_PATH, args.connections)],
                             read_duration, f"{strategy}-reads")
            reads["gunicornCpu"] = group_cpu_seconds(server) - server_before
    finally:
        processes.stop("gunicorn")  # no request in flight while the invariants are checked
    with app.app_context():
        checks, facts = check_invariants(event_id, flash, accounts, strategy)
    processes.stop("celery")
    cpu = {name: after - before for name, before, after in zip(("gunicorn", "celery", "postgres"), cpu_before, cpu_after)}
    cpu["wrk"] = flash["cpu"]
    # Whatever else ran on the machine meanwhile (other test suites share these 2 cores).
    cpu["other"] = max(busy - sum(cpu.values()), 0.0)
    cpu["busy"] = busy
    result = {"strategy": strategy, "connections": args.connections, "flash": flash, "reads": reads, "checks": checks,
              "facts": facts, "cpu": cpu}
    for name, ok, detail in checks:
        print(f"  [{'ok' if ok else 'FAIL'}] {name}: {detail}")
    return result


def flash_streams(connections, accounts_path, event_id):
    """The flash mix: 70% of the connections book, 20% read the list, 10% read the hot event's page."""
    readers = max(connections * 3 // 10, 2)
    return [Stream("POST /api/bookings", "/api/bookings", connections - readers, accounts_path),
            Stream("GET /api/events", LIST_PATH, readers - readers // 3),
            Stream("GET /api/events/:id", f"/api/events/{event_id}", readers // 3)]


def run_flash(processes, base, event_id, accounts, duration, connections, label):
    """The flash mix, with every 201 booking answer turned into what the client was told."""
    streams = flash_streams(connections, accounts.path, event_id)
    load = run_load(processes, base, streams, duration, label, event_id)
    load["bookingConnections"] = streams[0].connections
    load["acknowledged"] = [accounts.acknowledged(at, body) for at, body in load.pop("records")]
    return load


@dataclass
class Stream:
    """One endpoint's share of the load: one wrk process with its own connections, hence its own latencies."""

    name: str
    path: str
    connections: int
    post_as: str = None  # an accounts file: POST as one account per request instead of GET


def run_load(processes, base, streams, duration, label, event_id=None):
    """Run one wrk per stream, all at once; per-stream stats, every 201 POST answer, and wrk's CPU.

    Closed loop, no think time: each connection sends its next request as soon as
    the last is answered, so the offered load is as high as the connections push.
    """
    print(f"  wrk {label}: {', '.join(f'{s.connections} x {s.name}' for s in streams)} for {duration} s ...",
          flush=True)
    started, cpu_before = time.time(), own_cpu_seconds(children=True)
    names = [f"wrk-{label}-{index}" for index in range(len(streams))]
    for name, stream in zip(names, streams):
        start_wrk(processes, name, stream, base, duration, event_id)
    for name in names:
        processes.wait(name, duration + 30)
    cpu = own_cpu_seconds(children=True) - cpu_before  # the wrk processes, reaped just now

    load = {"stats": {}, "statuses": Counter(), "records": [], "cpu": cpu, "firstAt": started, "lastAt": started}
    for stream, name in zip(streams, names):
        with open(os.path.join(WORK, f"{name}.json")) as src:
            summary = json.load(src)
        errors = {kind: count for kind, count in summary["errors"].items() if count}
        answered_ok = sum(count for status, count in summary["statuses"].items() if status.startswith("2"))
        load["stats"][stream.name] = {"count": summary["requests"],
                                      "failures": summary["requests"] - answered_ok + sum(errors.values()),
                                      **{key: summary[key] for key in ("p50", "p95", "p99", "max")}}
        load["statuses"].update({f"{stream.name} {key}": count for key, count in (*summary["statuses"].items(),
                                                                                  *errors.items())})
        load["lastAt"] = max(load["lastAt"], summary["finishedAt"])
        if stream.post_as:
            with open(os.path.join(WORK, f"{name}.201")) as src:
                load["records"].extend((float(at), body) for at, body in (line.split(" ", 1) for line in src))
    load["stats"]["Aggregated"] = {"count": sum(stats["count"] for stats in load["stats"].values())}
    return load


def start_wrk(processes, name, stream, base, duration, event_id):
    """One wrk process for the stream; bench/load.lua writes <name>.json when done and, for POSTs, <name>.201."""
    env = {"BENCH_SUMMARY": os.path.join(WORK, f"{name}.json"), "BENCH_EVENT_ID": str(event_id or 0)}
    if stream.post_as:
        env.update(BENCH_ACCOUNTS=stream.post_as, BENCH_RECORD=os.path.join(WORK, f"{name}.201"))
        open(env["BENCH_RECORD"], "w").close()  # the script appends: start each run empty
    processes.start(name, ["wrk", "--threads", "1", "--connections", str(max(stream.connections, 1)),
                           "--duration", f"{duration}s", "--timeout", "10s", "--script", LOAD_SCRIPT,
                           base + stream.path], env=env)


# ---------------------------------------------------------------- invariants

def check_invariants(event_id, flash, accounts, strategy):
    """Compare PostgreSQL (and the gate) with every 201 the clients were given.

    wrk stops at its deadline without waiting for the requests still in flight
    (at most one per booking connection): the server may commit those, but their
    201s are never read. They are counted here as answered-but-unread rather than
    ignored: each must hold exactly what its account asked for.
    """
    from evently.seats import gate, reconcile

    acked = flash["acknowledged"]
    session = db.session
    booked_seats, cap = session.execute(text("SELECT booked_seats, capacity FROM events WHERE id = :id"),
                                        {"id": event_id}).one()
    confirmed = {row.id: row for row in session.execute(text(
        "SELECT id, user_id, quantity FROM bookings WHERE event_id = :id AND status = 'confirmed'"), {"id": event_id})}
    waiting = {row.id: row for row in session.execute(text(
        "SELECT id, user_id, quantity_remaining AS quantity FROM waitlist_entries "
        "WHERE event_id = :id AND status = 'waiting'"), {"id": event_id})}
    db.session.rollback()

    missing_bookings = [item["bookingId"] for item in acked if item["bookingId"]
                        and getattr(confirmed.get(item["bookingId"]), "quantity", None) != item["booked"]]
    missing_entries = [item["entryId"] for item in acked if item["entryId"]
                       and getattr(waiting.get(item["entryId"]), "quantity", None) != item["waitlisted"]]
    acked_bookings = {item["bookingId"] for item in acked if item["bookingId"]}
    acked_entries = {item["entryId"] for item in acked if item["entryId"]}
    # Rows written for requests whose 201 was never read, and the seats each such user got.
    unread_bookings = [row for row in confirmed.values() if row.id not in acked_bookings]
    unread_entries = [row for row in waiting.values() if row.id not in acked_entries]
    unread = Counter()
    for row in unread_bookings + unread_entries:
        unread[row.user_id] += row.quantity
    unread_booked = sum(row.quantity for row in unread_bookings)
    unread_waiting = sum(row.quantity for row in unread_entries)

    demand = sum(item["requested"] for item in acked) + sum(accounts.quantities[user] for user in unread)
    told_booked = sum(item["booked"] for item in acked)
    told_waiting = sum(item["waitlisted"] for item in acked)
    told_unserved = sum(item["requested"] - item["booked"] for item in acked)
    sum_confirmed = sum(row.quantity for row in confirmed.values())
    sum_waiting = sum(row.quantity for row in waiting.values())
    in_flight_limit = flash["bookingConnections"]
    checks = [
        ("booked seats == min(capacity, demand)", booked_seats == min(cap, demand),
         f"{booked_seats} == min({cap}, {demand})"),
        ("0 oversold: sum(confirmed) == booked_seats <= capacity", sum_confirmed == booked_seats <= cap,
         f"{sum_confirmed} == {booked_seats} <= {cap}"),
        ("every 201 booking in PostgreSQL", not missing_bookings,
         f"{len(acked_bookings) - len(missing_bookings)}/{len(acked_bookings)} present"),
        ("every 201 waitlist entry in PostgreSQL", not missing_entries,
         f"{len(acked_entries) - len(missing_entries)}/{len(acked_entries)} present"),
        ("each 201 waitlisted requested - booked", told_waiting == told_unserved, f"{told_waiting} == {told_unserved}"),
        ("clients told + unread == PostgreSQL (booked, waitlisted)",
         (told_booked + unread_booked, told_waiting + unread_waiting) == (booked_seats, sum_waiting),
         f"{told_booked} + {unread_booked} == {booked_seats}, {told_waiting} + {unread_waiting} == {sum_waiting}"),
        ("unread answers: only requests in flight at wrk's stop, each whole",
         len(unread) <= in_flight_limit and all(seats == accounts.quantities[user] for user, seats in unread.items()),
         f"{len(unread)} <= {in_flight_limit} connections, each holds what its account asked"),
    ]
    if strategy == "redis":
        state = gate.state(gate.ref(event_id))
        avail, nwait = int(state.get("avail", -1)), int(state.get("nwait", 0))
        in_flight = sum(1 for key in state if key.startswith("h:"))
        checks.append(("Redis gate avail == capacity - booked, no holds left",
                       avail == cap - booked_seats and in_flight == 0 and nwait == len(waiting),
                       f"avail {avail} == {cap - booked_seats}, holds {in_flight}, nwait {nwait} == {len(waiting)}"))
        # What `flask seats reconcile` does, for the hot event (the filler events never had a gate to correct).
        report = reconcile.reconcile_event(event_id=event_id)
        db.session.remove()
        checks.append(("seats reconcile finds nothing to correct", not report.corrected,
                       f"avail {report.avail_before} -> {report.avail_after}, holds returned {report.reaped_holds}"))
    facts = {"demand": demand, "booked": booked_seats, "capacity": cap, "waiting": sum_waiting}
    if acked:
        sold_at = [item["at"] for item in acked if item["booked"]]
        if sold_at and booked_seats >= cap:
            facts["sellout_seconds"] = max(sold_at) - flash["firstAt"]
    return checks, facts


# ---------------------------------------------------------------- report

def print_table(results, args, floors=None, metrics_us=None):
    def fmt(value, digits=0):
        return "-" if value is None else f"{value:,.{digits}f}"

    rows = []

    def row(label, getter, digits=0, higher_is_better=True):
        values = []
        for result in results:
            try:
                values.append(getter(result))
            except (KeyError, TypeError, ZeroDivisionError):
                values.append(None)
        ratio = None
        if len(values) == 2 and values[0] is not None and values[1]:
            ratio = values[0] / values[1]
        rows.append((label, [fmt(v, digits) for v in values], "-" if ratio is None else f"{ratio:.2f}x"))

    def stat(result, name, key):
        return result["flash"]["stats"][name][key]

    def duration(result):
        return seconds_of(result["flash"])

    row("booking requests/s (answered 201)", lambda r: booking_rate(r["flash"]))
    row("all requests/s", lambda r: stat(r, "Aggregated", "count") / duration(r))
    row("seats sold/s until sold out", lambda r: r["facts"]["capacity"] / r["facts"]["sellout_seconds"])
    row("sold out after (s)", lambda r: r["facts"]["sellout_seconds"], 1)
    for name in ENDPOINTS:
        row(f"{name} req/s", lambda r, n=name: stat(r, n, "count") / duration(r))
        for key in ("p50", "p95", "p99"):
            row(f"{name} {key} ms", lambda r, n=name, k=key: stat(r, n, k))
    row("gunicorn CPU ms per request", lambda r: 1000 * r["cpu"]["gunicorn"] / stat(r, "Aggregated", "count"), 2)
    row("postgres CPU ms per request (bench backends)",
        lambda r: 1000 * r["cpu"]["postgres"] / stat(r, "Aggregated", "count"), 2)
    row("wrk (load) CPU ms per request", lambda r: 1000 * r["cpu"]["wrk"] / stat(r, "Aggregated", "count"), 2)
    row("Celery worker CPU ms per request", lambda r: 1000 * r["cpu"]["celery"] / stat(r, "Aggregated", "count"), 2)
    row("CPU used by other processes (cores)", lambda r: r["cpu"]["other"] / duration(r), 2)
    row("machine busy (cores)", lambda r: r["cpu"]["busy"] / duration(r), 2)

    labels = [r["strategy"] for r in results]
    load = os.getloadavg()
    print(f"\nmachine: {os.cpu_count()} cores, load average now {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    width = max(len(label) for label, _v, _r in rows) + 2
    header = f"{'':<{width}}" + "".join(f"{label:>12}" for label in labels) + (f"{'ratio':>10}" if len(results) == 2 else "")
    print(f"\n== flash sale: {args.connections} connections, {args.duration} s per strategy, "
          f"hot event of {args.capacity} seats ==")
    if len(results) == 2:
        print(f"(ratio = {labels[0]} / {labels[1]})")
    print(header)
    for label, values, ratio in rows:
        print(f"{label:<{width}}" + "".join(f"{v:>12}" for v in values) + (f"{ratio:>10}" if len(results) == 2 else ""))

    print("\nstatus counts")
    for result in results:
        statuses = result["flash"]["statuses"]
        print(f"  {result['strategy']:<8} " + ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items())))
    print("\ninvariants (PostgreSQL and Redis after the server stopped)")
    for result in results:
        for name, ok, detail in result["checks"]:
            print(f"  {result['strategy']:<8} [{'ok' if ok else 'FAIL'}] {name}: {detail}")
    _print_reads(results, args)
    if floors:
        _floor_bench().print_floors(floors, args.floor_duration, args.connections)
    _print_goals(results, floors, metrics_us)


def seconds_of(run):
    """A wrk run's span, first answer to last."""
    return run["lastAt"] - run["firstAt"]


def booking_rate(flash):
    """Booking requests answered 201 per second of the flash sale."""
    return len(flash["acknowledged"]) / seconds_of(flash)


def list_rate(reads):
    """Event list requests per second of the list-only run."""
    return reads["stats"]["GET /api/events"]["count"] / seconds_of(reads)


def _print_reads(results, args):
    for result in results:
        reads = result["reads"]
        if reads:
            s = reads["stats"]["GET /api/events"]
            errors = {k: v for k, v in reads["statuses"].items() if not k.endswith(" 200")}
            requests = max(s["count"], 1)
            print(f"\nevent list alone ({result['strategy']} server, {args.connections} connections, "
                  f"{args.read_duration} s): "
                  f"{list_rate(reads):,.0f} req/s, p50 {s['p50']:.0f} ms, p95 {s['p95']:.0f} ms, "
                  f"p99 {s['p99']:.0f} ms, errors {errors or 0}; CPU ms per request: "
                  f"gunicorn {reads['gunicornCpu'] * 1000 / requests:.2f}, wrk {reads['cpu'] * 1000 / requests:.2f}")


def _print_goals(results, floors=None, metrics_us=None):
    """The goals against the gated strategy's run, each marked met or not met."""
    gated = next((r for r in results if r["strategy"] == "redis"), None)
    if gated is None:
        return
    bookings = booking_rate(gated["flash"])
    p99 = gated["flash"]["stats"]["POST /api/bookings"]["p99"]
    _name, not_oversold, detail = next(check for check in gated["checks"] if check[0].startswith("0 oversold"))
    failed_checks = [name for name, ok, _detail in gated["checks"] if not ok]
    goals = [(f"bookings p99 <= {GOAL_BOOKINGS_P99_MS} ms at {gated['connections']} connections", f"{p99:,.0f} ms",
              p99 <= GOAL_BOOKINGS_P99_MS),
             ("0 oversold (confirmed == booked <= capacity)", detail, not_oversold),
             ("every invariant check [ok]", ", ".join(failed_checks) or "all ok", not failed_checks)]
    if floors:
        floor = floors["book"]["rps"]
        goals.insert(0, (f"booking requests/s >= {GOAL_BOOKINGS_SHARE_OF_FLOOR:.0%} of the Lua + INSERT floor",
                         f"{bookings:,.0f} of {floor:,.0f} = {bookings / floor:.0%}",
                         bookings >= GOAL_BOOKINGS_SHARE_OF_FLOOR * floor))
        if gated["reads"]:
            listed, page = list_rate(gated["reads"]), floors["get"]["rps"]
            goals.append((f"event list alone >= {GOAL_LIST_SHARE_OF_FLOOR:.0%} of the constant-page floor",
                          f"{listed:,.0f} of {page:,.0f} = {listed / page:.0%}",
                          listed >= GOAL_LIST_SHARE_OF_FLOOR * page))
    else:
        print("\n(the floors were not measured: the throughput goals cannot be judged)")
    if metrics_us is not None:
        per_request_ms = 1000 * gated["cpu"]["gunicorn"] / gated["flash"]["stats"]["Aggregated"]["count"]
        share = metrics_us / 1000 / per_request_ms
        goals.append((f"Prometheus metrics <= {GOAL_METRICS_SHARE:.0%} of a request's CPU",
                      f"{metrics_us:.1f} µs of {per_request_ms:.2f} ms = {share:.1%}", share <= GOAL_METRICS_SHARE))
    print("\ngoals (redis strategy; ratios to the floors of this run, see docs/benchmarks.md)")
    for name, measured, met in goals:
        print(f"  [{'met' if met else 'not met'}] {name}: {measured}")


if __name__ == "__main__":
    sys.exit(main())
