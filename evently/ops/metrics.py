"""Prometheus counters shared across domains (one registry per process), and the per-request hook."""
import time

from flask import g, request
from prometheus_client import Counter, Histogram

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
