"""gunicorn settings (`gunicorn --config gunicorn.conf.py wsgi:app`).

HOST (default 127.0.0.1; 0.0.0.0 in a container), PORT (default 5000) and
WEB_CONCURRENCY (default cores + 1) come from the environment. A bind beyond
loopback is refused before it happens unless real secrets are configured
(`on_starting`, evently/secret_keys.py).
"""
import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '5000')}"
# Sync workers, one per core plus one: a booking is CPU-bound Python plus short
# loopback round trips (Redis, PostgreSQL), so threads would only contend on the
# GIL. Measured with `make bench` on 2 cores (README, Benchmark): sync x3 beat
# gthread 3x4 (131 vs 114 bookings/s, p99 390 vs 980 ms); sync x5 and gthread
# 2x8 did no better. gthread x3 with 1 thread (keep-alive) gave ~20% more
# bookings/s but a ~1.6x worse p99, so sync stays. Re-measured with 2 x 4
# threads: the event list alone ran 1.6x faster with keep-alive, but gthread
# pins each connection to one worker (32 vs 16 seen), doubling the tail for
# the busier worker's clients, and capping worker_connections starves clients
# beyond the cap (README, Benchmark). Keep-alive belongs in a proxy in front.
# gevent would need psycopg2 made cooperative (psycogreen).
# GUNICORN_WORKER_CLASS and GUNICORN_THREADS exist so the benchmark can compare.
workers = int(os.environ.get("WEB_CONCURRENCY", (os.cpu_count() or 1) + 1))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "sync")
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = 30
# Each worker proves it is alive by touching a temporary file on every loop
# (one utime per request). On a container's overlay or a busy disk that call can
# block a worker for long enough to be killed as hung; /dev/shm is memory.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
graceful_timeout = 20
keepalive = 5
accesslog = None
# gunicorn's runtime control socket lives at one fixed path per user, so a second
# server (a benchmark beside `make run`, another checkout) would fight over it.
control_socket_disable = True


def on_starting(server):
    # Here, in the master and before any socket is bound, so that whatever --bind or HOST
    # says, a server reachable from other machines never starts with development secrets.
    # gunicorn prints the RuntimeError as one line and exits 1.
    from evently.secret_keys import refuse_exposed_development_secrets

    refuse_exposed_development_secrets(server.cfg.address)
