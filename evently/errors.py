"""The AppError family and the one renderer that turns every failure into the JSON envelope.

The classes are also the catalogue of what the API can answer: each names its status, its code
and its sentence once, and the OpenAPI document (evently/http.py) lists them per operation.
Nothing of evently is imported here (the handlers use the app's own extensions), so any module
may import this one."""
import logging
import time

import redis
from flask import current_app, jsonify
from flask_jwt_extended.exceptions import JWTExtendedException
from jwt.exceptions import PyJWTError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class AppError(Exception):
    status = 400
    code = "BAD_REQUEST"
    message = "The request could not be processed."
    # What `details` carries when this is raised, as the OpenAPI document shows it.
    example_details = {}

    def __init__(self, message=None, *, details=None, headers=None, code=None):
        super().__init__(message or self.message)
        self.message = message or self.message
        self.details = details or {}
        self.headers = headers or {}
        if code:
            self.code = code


class ValidationError(AppError):
    status, code, message = 400, "VALIDATION_ERROR", "The request is not valid."
    example_details = {"quantity": ["Must be greater than or equal to 1 and less than or equal to 1000."]}


class Unauthorized(AppError):
    status, code, message = 401, "UNAUTHORIZED", "Authentication is required."


class Forbidden(AppError):
    status, code, message = 403, "FORBIDDEN", "You are not allowed to do this."


class NotFound(AppError):
    status, code, message = 404, "NOT_FOUND", "The resource was not found."


class MethodNotAllowed(AppError):
    status, code, message = 405, "METHOD_NOT_ALLOWED", "This method is not allowed on this resource."


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
    example_details = {"availableSeats": 8}


class CapacityBelowBooked(Conflict):
    code, message = "CAPACITY_BELOW_BOOKED", "Capacity cannot go below the seats already booked."
    example_details = {"capacity": 40, "bookedSeats": 48}


class EventCancelled(Conflict):
    code, message = "EVENT_CANCELLED", "This event is cancelled and can no longer be changed."


class EventHasBookings(Conflict):
    code, message = "EVENT_HAS_BOOKINGS", "An event with bookings or waiters cannot go back to draft; cancel it instead."


class PerUserLimit(Conflict):
    code, message = "PER_USER_LIMIT", "This would give you more seats for this event than one person may hold."
    example_details = {"maxPerUser": 4, "held": 3, "requested": 2}


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


class PayloadTooLarge(AppError):
    status, code, message = 413, "PAYLOAD_TOO_LARGE", "The request body is too large."


class UnsupportedMediaType(AppError):
    status, code, message = 415, "UNSUPPORTED_MEDIA_TYPE", "Send the request body as application/json."


class RateLimited(AppError):
    status, code, message = 429, "RATE_LIMITED", "Too many requests; slow down."


class InternalError(AppError):
    status, code, message = 500, "INTERNAL_ERROR", "Internal server error."


class Unavailable(AppError):
    status, code, message = 503, "UNAVAILABLE", "A dependency is unavailable; please retry shortly."

    def __init__(self, message=None, *, retry_after=1, **kwargs):
        super().__init__(message, **kwargs)
        self.headers.setdefault("Retry-After", str(retry_after))


# Werkzeug's HTTP exceptions (routing, body size, the rate limiter...) keep their status and
# take the code of the AppError with that status.
HTTP_ERRORS = {error.status: error for error in (
    AppError, Unauthorized, Forbidden, NotFound, MethodNotAllowed, Conflict, PayloadTooLarge, UnsupportedMediaType,
    RateLimited, InternalError, Unavailable)}
# For these, werkzeug's own sentence is kept: raised with a description, it says what was wrong.
KEEPS_WERKZEUG_SENTENCE = frozenset({400, 401, 403, 409})


def error_payload(code, message, details=None):
    """The one JSON error envelope."""
    return {"message": message, "error": {"code": code, "details": details or {}}}


def example_envelope(error):
    """The envelope an AppError class renders, as documented."""
    return error_payload(error.code, error.message, error.example_details)


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
        return error_response(ValidationError.status, ValidationError.code, ValidationError.message, details)
    headers = dict(data.get("headers") or {})
    if status == 429:
        retry_after = _retry_after(error)
        headers["Retry-After"] = str(retry_after)
    if status == 405 and getattr(error, "valid_methods", None):
        headers["Allow"] = ", ".join(error.valid_methods)
    known = HTTP_ERRORS.get(status)
    if known is None:
        return error_response(status, "HTTP_ERROR", error.description if status < 500 else InternalError.message,
                              headers=headers)
    message = error.description if status in KEEPS_WERKZEUG_SENTENCE else known.message
    return error_response(status, known.code, message, headers=headers)


def _retry_after(error):
    """Seconds until the exhausted rate-limit window resets."""
    for limiter in current_app.extensions.get("limiter", ()):
        current = limiter.current_limit
        if current is not None:
            return max(1, int(current.reset_at - time.time()))
    limit = getattr(error, "limit", None)
    return limit.limit.get_expiry() if limit is not None else 60


TOKEN_REFUSED = "The access token is missing, invalid, expired or revoked."


def handle_jwt_error(error):
    return handle_app_error(Unauthorized(TOKEN_REFUSED))


def _rollback():
    """Leave no failed transaction behind for the next use of this session."""
    try:
        current_app.extensions["sqlalchemy"].session.rollback()
    except Exception:  # noqa: BLE001 - the connection may be gone; the pool replaces it
        pass


def handle_dependency_down(error):
    _rollback()
    log.warning("dependency unavailable: %s", error.__class__.__name__)
    return handle_app_error(Unavailable())


def handle_unexpected(error):
    _rollback()
    log.exception("unhandled error")
    return handle_app_error(InternalError())


# What a Redis that cannot answer raises. On a Cluster, a primary lost without a replica makes
# its slots answer CLUSTERDOWN (a ResponseError) or leaves them unmapped: both mean "Redis is
# down", as a refused socket does. Other cluster errors (CROSSSLOT) are bugs and stay 500s.
REDIS_UNAVAILABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
                     redis.exceptions.ClusterDownError, redis.exceptions.SlotNotCoveredError)


def register_error_handlers(app):
    app.register_error_handler(AppError, handle_app_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(JWTExtendedException, handle_jwt_error)
    app.register_error_handler(PyJWTError, handle_jwt_error)
    for error in REDIS_UNAVAILABLE:
        app.register_error_handler(error, handle_dependency_down)
    app.register_error_handler(OperationalError, handle_dependency_down)
    app.register_error_handler(Exception, handle_unexpected)
