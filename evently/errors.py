"""The AppError family and the one renderer that turns every failure into the JSON envelope."""
import logging
import time

import redis
from flask import jsonify
from flask_jwt_extended.exceptions import JWTExtendedException
from jwt.exceptions import PyJWTError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class AppError(Exception):
    status = 400
    code = "BAD_REQUEST"
    message = "The request could not be processed."

    def __init__(self, message=None, *, details=None, headers=None, code=None):
        super().__init__(message or self.message)
        self.message = message or self.message
        self.details = details or {}
        self.headers = headers or {}
        if code:
            self.code = code


class ValidationError(AppError):
    status, code, message = 400, "VALIDATION_ERROR", "The request is not valid."


class Unauthorized(AppError):
    status, code, message = 401, "UNAUTHORIZED", "Authentication is required."


class Forbidden(AppError):
    status, code, message = 403, "FORBIDDEN", "You are not allowed to do this."


class NotFound(AppError):
    status, code, message = 404, "NOT_FOUND", "The resource was not found."


class Conflict(AppError):
    status, code, message = 409, "CONFLICT", "The request conflicts with the current state."


class EmailTaken(Conflict):
    code, message = "EMAIL_TAKEN", "An account with this email already exists."


class SoldOut(Conflict):
    code, message = "SOLD_OUT", "No seats are left for this event."


class EventStarted(Conflict):
    code, message = "EVENT_STARTED", "The event has already started."


class EventNotBookable(Conflict):
    code, message = "EVENT_NOT_BOOKABLE", "This event is not open for booking."


class AlreadyCancelled(Conflict):
    code, message = "ALREADY_CANCELLED", "This booking is already cancelled."


class SeatsAvailable(Conflict):
    code, message = "SEATS_AVAILABLE", "Seats are available: book them instead of waiting."


class CapacityBelowBooked(Conflict):
    code, message = "CAPACITY_BELOW_BOOKED", "Capacity cannot go below the seats already booked."


class EventCancelled(Conflict):
    code, message = "EVENT_CANCELLED", "This event is cancelled and can no longer be changed."


class EventHasBookings(Conflict):
    code, message = "EVENT_HAS_BOOKINGS", "An event with bookings or waiters cannot go back to draft; cancel it instead."


class PerUserLimit(Conflict):
    code, message = "PER_USER_LIMIT", "This would give you more seats for this event than one person may hold."


class AlreadyWaitlisted(Conflict):
    code, message = "ALREADY_WAITLISTED", "You are already on the waitlist for this event."


class IdempotencyInProgress(Conflict):
    code, message = "IDEMPOTENCY_IN_PROGRESS", "A request with this Idempotency-Key is still in progress."


class AlreadyCheckedIn(Conflict):
    code, message = "ALREADY_CHECKED_IN", "This ticket has already been checked in."


class TicketVoid(Conflict):
    code, message = "TICKET_VOID", "This ticket is void: its seat was cancelled."


class IdempotencyKeyReused(AppError):
    status, code = 422, "IDEMPOTENCY_KEY_REUSED"
    message = "This Idempotency-Key was already used with a different request."


class Unavailable(AppError):
    status, code, message = 503, "UNAVAILABLE", "A dependency is unavailable; please retry shortly."

    def __init__(self, message=None, *, retry_after=1, **kwargs):
        super().__init__(message, **kwargs)
        self.headers.setdefault("Retry-After", str(retry_after))


# Werkzeug's HTTP exceptions keep their status; these give them our codes.
HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "VALIDATION_ERROR",
    429: "RATE_LIMITED",
    500: "INTERNAL_ERROR",
    503: "UNAVAILABLE",
}

HTTP_MESSAGES = {
    404: "The resource was not found.",
    405: "This method is not allowed on this resource.",
    413: "The request body is too large.",
    415: "Send the request body as application/json.",
    429: "Too many requests; slow down.",
}


def error_payload(code, message, details=None):
    """The one JSON error envelope."""
    return {"message": message, "error": {"code": code, "details": details or {}}}


def error_response(status, code, message, details=None, headers=None):
    response = jsonify(error_payload(code, message, details))
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def handle_app_error(error):
    return error_response(error.status, error.code, error.message, error.details, error.headers)


def handle_http_exception(error):
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    if status in (400, 422) and "messages" in data:
        # webargs/marshmallow validation: {location: {field: [messages]}} -> {field: [messages]}
        details = {}
        for fields in data["messages"].values():
            details.update(fields if isinstance(fields, dict) else {"_schema": fields})
        return error_response(400, "VALIDATION_ERROR", "The request is not valid.", details)
    headers = dict(data.get("headers") or {})
    if status == 429:
        retry_after = _retry_after(error)
        headers["Retry-After"] = str(retry_after)
    if status == 405 and getattr(error, "valid_methods", None):
        headers["Allow"] = ", ".join(error.valid_methods)
    message = HTTP_MESSAGES.get(status) or (error.description if status < 500 else "Internal server error.")
    return error_response(status, HTTP_CODES.get(status, "HTTP_ERROR"), message, headers=headers)


def _retry_after(error):
    """Seconds until the exhausted rate-limit window resets."""
    from evently.extensions import limiter

    current = limiter.current_limit
    if current is not None:
        return max(1, int(current.reset_at - time.time()))
    limit = getattr(error, "limit", None)
    return limit.limit.get_expiry() if limit is not None else 60


def handle_jwt_error(error):
    return error_response(401, "UNAUTHORIZED", "The access token is missing, invalid, expired or revoked.")


def _rollback():
    """Leave no failed transaction behind for the next use of this session."""
    from evently.extensions import db

    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - the connection may be gone; the pool replaces it
        pass


def handle_dependency_down(error):
    _rollback()
    log.warning("dependency unavailable: %s", error.__class__.__name__)
    return error_response(503, "UNAVAILABLE", "A dependency is unavailable; please retry shortly.",
                          headers={"Retry-After": "1"})


def handle_unexpected(error):
    _rollback()
    log.exception("unhandled error")
    return error_response(500, "INTERNAL_ERROR", "Internal server error.")


def register_error_handlers(app):
    app.register_error_handler(AppError, handle_app_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(JWTExtendedException, handle_jwt_error)
    app.register_error_handler(PyJWTError, handle_jwt_error)
    app.register_error_handler(redis.exceptions.ConnectionError, handle_dependency_down)
    app.register_error_handler(redis.exceptions.TimeoutError, handle_dependency_down)
    app.register_error_handler(OperationalError, handle_dependency_down)
    app.register_error_handler(Exception, handle_unexpected)
