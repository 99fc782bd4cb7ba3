"""gunicorn's worker models side by side: the flash sale and slow clients, per model.

    .venv/bin/python -m bench.worker_models                  # ~6 min
    .venv/bin/python -m bench.worker_models --rounds 1 --models sync,gevent

For each model (sync, gthread, gevent with psycogreen), interleaved round by round
so that the machine's drift spreads over all of them: the flash sale of
`make bench` (gated strategy; bookings/s, bookings p99, the event list alone, the
invariants), then the slowloris case of the security issue, straight at gunicorn
with no proxy in front: SLOW_CLIENTS sockets that trickle one header line a second,
and how long /healthz takes meanwhile. The figures and the choice are in
docs/benchmarks.md ("Worker model").
"""
import argparse
import os
import time
import urllib.request

from bench import flash_sale
from bench.flash_sale import BIN, Processes, run_strategy
from bench.loopback import Slowloris, free_port, wait_http

MODELS = {
    "sync": {},
    "gthread": {"GUNICORN_WORKER_CLASS": "gthread", "GUNICORN_THREADS": "4"},
    "gevent": {"GUNICORN_WORKER_CLASS": "gevent"},
}
SLOW_CLIENTS = 40
PROBE_TIMEOUT = 5.0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--read-duration", type=int, default=8)
    parser.add_argument("--connections", type=int, default=48)
    parser.add_argument("--capacity", type=int, default=2000)
    parser.add_argument("--accounts", type=int, default=30000)
    args = parser.parse_args()
    models = [name.strip() for name in args.models.split(",")]
    os.makedirs(flash_sale.WORK, exist_ok=True)
    flash_sale.prepare_database()
    app = flash_sale.create_app()
    with app.app_context():
        accounts = flash_sale.seed_accounts(app, args.accounts)
        flash_sale.filler_events()
    rows = []
    processes = Processes()
    try:
        for round_number in range(1, args.rounds + 1):
            for model in models:
                print(f"\n== round {round_number}: {model} ==", flush=True)
                rows.append((model, sale(app, processes, model, args, accounts), slow_clients(processes, model)))
    finally:
        processes.stop_all()
    print_rows(rows, args)
    return 0


def sale(app, processes, model, args, accounts):
    settings = MODELS[model]
    run_args = argparse.Namespace(**vars(args), workers=None, worker_class=settings.get("GUNICORN_WORKER_CLASS"),
                                  threads=int(settings["GUNICORN_THREADS"]) if "GUNICORN_THREADS" in settings else None,
                                  profile=False, app_dir=flash_sale.ROOT)
    return run_strategy(app, processes, "redis", run_args, accounts, args.read_duration)


def slow_clients(processes, model):
    """Seconds /healthz takes (None: no answer within PROBE_TIMEOUT) while SLOW_CLIENTS trickle headers."""
    port = free_port()
    processes.start("gunicorn-slow", [os.path.join(BIN, "gunicorn"), "--config", "gunicorn.conf.py", "wsgi:app"],
                    env={**MODELS[model], "PORT": str(port), "LOG_LEVEL": "WARNING"}, log=f"gunicorn-slow-{model}")
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz")
        with Slowloris(port, SLOW_CLIENTS, settle=1.0):
            return max(probe(port) or PROBE_TIMEOUT for _ in range(3))
    finally:
        processes.stop("gunicorn-slow")


def probe(port):
    started = time.monotonic()
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=PROBE_TIMEOUT).read()
    except OSError:
        return None
    return time.monotonic() - started


def print_rows(rows, args):
    print(f"\n== worker models: flash sale {args.duration} s at {args.connections} connections (redis), "
          f"event list alone {args.read_duration} s, then {SLOW_CLIENTS} slow clients ==")
    print(f"{'model':10}{'bookings/s':>12}{'p99 ms':>9}{'list/s':>9}{'list p99':>10}{'gunicorn ms/req':>17}"
          f"{'invariants':>12}{'healthz under slowloris':>26}")
    for model, result, slow in rows:
        flash, reads = result["flash"], result["reads"]
        per_request = 1000 * result["cpu"]["gunicorn"] / flash["stats"]["Aggregated"]["count"]
        held = all(ok for _name, ok, _detail in result["checks"])
        healthz = f"> {PROBE_TIMEOUT:.0f} s (no answer)" if slow >= PROBE_TIMEOUT else f"{slow * 1000:.0f} ms"
        print(f"{model:10}{flash_sale.booking_rate(flash):12,.0f}{flash['stats']['POST /api/bookings']['p99']:9,.0f}"
              f"{flash_sale.list_rate(reads):9,.0f}{reads['stats']['GET /api/events']['p99']:10,.0f}"
              f"{per_request:17.2f}{'ok' if held else 'FAIL':>12}{healthz:>26}")


if __name__ == "__main__":
    raise SystemExit(main())
