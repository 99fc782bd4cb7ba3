"""Liveness, readiness and Prometheus metrics (outside /api, no auth, no rate limit; metrics
only to loopback and METRICS_ALLOWED_NETWORKS)."""
from flask import Blueprint, current_app, jsonify, request
from prometheus_client.exposition import choose_encoder
from sqlalchemy import text

from evently.extensions import db, limiter, redis_client

from . import access
from .metrics import observe_request
from .metrics import registry as metrics_registry

blp = Blueprint("ops", __name__)
# Counts every request of the app, not only this blueprint's.
blp.after_app_request(observe_request)
# A mistyped METRICS_ALLOWED_NETWORKS stops the app at start-up instead of failing each scrape.
blp.record_once(access.parse_allowed_networks)


@blp.get("/healthz")
@limiter.exempt
def healthz():
    return jsonify({"message": "ok", "data": {"status": "alive"}})


@blp.get("/readyz")
@limiter.exempt
def readyz():
    checks = {"postgres": _check_postgres(), "redis": _check_redis(), "broker": _check_broker()}
    ready = all(checks.values())
    body = {"message": "ready" if ready else "not ready",
            "data": {name: ("ok" if ok else "down") for name, ok in checks.items()}}
    if not ready:
        body["error"] = {"code": "UNAVAILABLE", "details": body["data"]}
    response = jsonify(body)
    response.status_code = 200 if ready else 503
    return response


@blp.get("/metrics")
@limiter.exempt
@access.allowed_networks_only
def metrics():
    # Negotiated like prometheus_client's own server: the classic 0.0.4 text
    # format unless the scraper asks for OpenMetrics.
    encoder, content_type = choose_encoder(request.headers.get("Accept"))
    return encoder(metrics_registry()), 200, {"Content-Type": content_type}


def _check_postgres():
    try:
        db.session.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001 - any failure means "not ready"
        db.session.rollback()
        return False


def _check_redis():
    try:
        return bool(redis_client.ping())
    except Exception:  # noqa: BLE001
        return False


def _check_broker():
    celery = current_app.extensions["celery"]
    try:
        with celery.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=1)
        return True
    except Exception:  # noqa: BLE001
        return False
