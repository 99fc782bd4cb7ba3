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
# GIL, and gthread's keep-alive pins each connection to one worker, which
# lengthens the tail for the busier worker's clients. Keep-alive belongs in a
# proxy in front; gevent would need psycopg2 made cooperative (psycogreen).
# The measurements behind this choice are in docs/benchmarks.md (gunicorn).
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


# Here, in the master and before any socket is bound: a server reachable from other machines
# never starts with development secrets (gunicorn prints the RuntimeError as one line and exits
# 1), and Prometheus gets its directory, which each worker writes its values to and /metrics sums
# (evently/ops/multiproc.py), before any worker imports the app.
def on_starting(server):
    from evently.ops import multiproc
    from evently.secret_keys import refuse_exposed_development_secrets

    refuse_exposed_development_secrets(server.cfg.address)
    server.metrics_dir = multiproc.prepare("gunicorn")


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    from evently.ops import multiproc

    multiproc.cleanup(server.metrics_dir)


def post_fork(server, worker):
    # gevent makes Python's sockets cooperative, but psycopg2 talks to PostgreSQL from C: without
    # psycogreen's wait callback one slow query would stop every request of the worker.
    if server.cfg.worker_class_str == "gevent":
        from psycogreen.gevent import patch_psycopg

        patch_psycopg()
