"""Prometheus counters shared across domains, the per-request hook, and what a scrape reads.

Under gunicorn and in the Celery workers every process writes its values to
PROMETHEUS_MULTIPROC_DIR (evently/ops/multiproc.py) and a scrape sums them, so a
counter reads the same whichever process answers. The metric list, with a
scrape configuration, is in docs/observability.md.
"""
import logging
import os
import time

from flask import g, request
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, multiprocess, start_http_server

log = logging.getLogger(__name__)

HTTP_REQUESTS = Counter("evently_http_requests_total", "HTTP requests", ["method", "endpoint", "status"])
HTTP_LATENCY = Histogram("evently_http_request_seconds", "HTTP request latency", ["endpoint"])
BOOKINGS = Counter("evently_bookings_total", "Booking requests by outcome", ["outcome"])
SEATS_TAKEN = Counter("evently_seats_taken_total", "Seats booked", ["source"])
GUARD_REJECTIONS = Counter("evently_guard_rejections_total",
                           "Redis admitted a hold but the PostgreSQL guard refused it")
RECONCILE_CORRECTIONS = Counter("evently_reconcile_corrections_total", "Redis gate corrections by kind", ["kind"])
HOLDS_REAPED = Counter("evently_holds_reaped_total", "Expired holds returned to sale")
PROMOTIONS = Counter("evently_waitlist_promotions_total", "Seats promoted from the waitlist")
NOTIFICATIONS = Counter("evently_notifications_total", "Notification deliveries by outcome", ["outcome"])
TASKS = Counter("evently_celery_tasks_total", "Celery tasks run by this stack's workers, by final state",
                ["task", "state"])

KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def observe_request(response):
    # Label by URL rule, never the raw path: /api/events/1, /api/events/2, ... and
    # every scanned junk URL would each become a time series.
    endpoint = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
    method = request.method if request.method in KNOWN_METHODS else "OTHER"
    HTTP_REQUESTS.labels(method=method, endpoint=endpoint, status=str(response.status_code)).inc()
    started = getattr(g, "started_at", None)
    if started is not None:
        HTTP_LATENCY.labels(endpoint=endpoint).observe(time.perf_counter() - started)
    return response


def count_task(sender=None, state=None, **_kwargs):
    """Celery's task_postrun signal, in the pool process that ran the task."""
    TASKS.labels(task=getattr(sender, "name", "unknown"), state=state or "UNKNOWN").inc()


def registry():
    """What a scrape reads: every process's values summed when this process is one of
    a multi-process server's (PROMETHEUS_MULTIPROC_DIR set), else its own."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        summed = CollectorRegistry()
        multiprocess.MultiProcessCollector(summed)
        return summed
    return REGISTRY


def serve(*, host, port):
    """Serve `registry()` on host:port from a background thread (a Celery worker's
    main process, whose pool processes count the tasks). A taken port is logged,
    not fatal: the worker's tasks matter more than its metrics."""
    try:
        server, _thread = start_http_server(port, addr=host, registry=registry())
    except OSError as error:
        log.error("metrics: cannot listen on %s:%s (%s); this worker serves no metrics", host, port, error)
        return None
    log.info("metrics: serving Prometheus text on http://%s:%s/metrics", host, port)
    return server


def process_exited(pid):
    """Drop a dead process's live-gauge files (gunicorn's child_exit, Celery's pool
    process shutdown); its counters stay, so totals never go backwards."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(pid)
