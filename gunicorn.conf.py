"""gunicorn settings (`gunicorn --config gunicorn.conf.py wsgi:app`).

HOST (default 127.0.0.1; 0.0.0.0 in a container), PORT (default 5000) and
WEB_CONCURRENCY (default cores + 1) come from the environment.
"""
import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '5000')}"
# Sync workers, one per core plus one: a booking is CPU-bound Python plus two
# short network round trips (Redis, PostgreSQL), so threads would only contend on the GIL.
workers = int(os.environ.get("WEB_CONCURRENCY", (os.cpu_count() or 1) + 1))
worker_class = "sync"
timeout = 30
graceful_timeout = 20
keepalive = 5
accesslog = None
# gunicorn's runtime control socket lives at one fixed path per user, so a second
# server (a benchmark beside `make run`, another checkout) would fight over it.
control_socket_disable = True
