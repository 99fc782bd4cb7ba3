"""Liveness, readiness and Prometheus metrics (outside /api, no auth, no rate limit)."""
from flask import Blueprint, current_app, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from evently.extensions import db, limiter, redis_client

blp = Blueprint("ops", __name__)


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
def metrics():
    return generate_latest(), 200, {"Content-Type": CONTENT_TYPE_LATEST}


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
