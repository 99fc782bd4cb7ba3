"""/api/bookings: book, list, show, cancel."""
import re

from flask import jsonify, request
from flask_jwt_extended import current_user

from evently.auth.tokens import auth_required
from evently.errors import (AlreadyCancelled, AlreadyWaitlisted, EventNotBookable, EventStarted, IdempotencyInProgress,
                            IdempotencyKeyReused, NotFound, PerUserLimit, SoldOut, ValidationError)
from evently.http import Blueprint, document_errors, envelope, page_meta

from . import idempotency, services
from .schemas import BookingCancelSchema, BookingCreateSchema, BookingQuerySchema, BookingResultSchema, BookingWithEventSchema

blp = Blueprint("bookings", __name__, url_prefix="/api/bookings", description="Bookings")

IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
BookingResultEnvelope = envelope(BookingResultSchema)


@blp.post("")
@document_errors(NotFound, EventNotBookable, EventStarted, SoldOut, AlreadyWaitlisted, PerUserLimit,
                 IdempotencyInProgress, IdempotencyKeyReused)
@auth_required
@blp.arguments(BookingCreateSchema)
@blp.response(201, BookingResultEnvelope)
@blp.doc(parameters=[{"in": "header", "name": "Idempotency-Key", "required": False,
                      "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY.pattern},
                      "description": "Retries with the same key and body replay the first response."}])
def create_booking(body):
    """Book tickets; what cannot be booked now joins the waitlist (unless joinWaitlist is false)."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        result = services.book_seats(user=current_user, **body)
        return {"message": result.message, "data": result}
    if not IDEMPOTENCY_KEY.match(key):
        raise ValidationError(details={"Idempotency-Key": ["1 to 255 printable ASCII characters."]})
    claim = idempotency.begin(user_id=current_user.id, key=key,
                              fingerprint=idempotency.request_fingerprint("POST", request.path, body))
    if not claim.replayed:
        idempotency.execute(
            claim, render=lambda result: BookingResultEnvelope().dump({"message": result.message, "data": result}),
            run=lambda on_recorded: services.book_seats(user=current_user, on_recorded=on_recorded, **body))
    response = jsonify(claim.body)
    response.status_code = claim.status
    if claim.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@blp.get("")
@auth_required
@blp.arguments(BookingQuerySchema, location="query")
@blp.response(200, envelope(BookingWithEventSchema, many=True, paginated=True))
def list_bookings(query):
    """Booking history, newest first."""
    items, total = services.list_bookings(actor=current_user, **query)
    return {"message": "Bookings.", "data": items,
            "meta": page_meta(page=query["page"], per_page=query["per_page"], total=total)}


@blp.get("/<int:booking_id>")
@auth_required
@blp.response(200, envelope(BookingWithEventSchema))
def get_booking(booking_id):
    return {"message": "Booking.", "data": services.get_booking(actor=current_user, booking_id=booking_id)}


@blp.delete("/<int:booking_id>")
@document_errors(AlreadyCancelled, EventStarted)
@auth_required
@blp.response(200, envelope(BookingWithEventSchema, name="CancelledBookingEnvelope"))
def cancel_booking(booking_id):
    """Cancel a booking; its seats go to the waitlist first, then back on sale."""
    booking = services.cancel_booking(actor=current_user, booking_id=booking_id)
    return {"message": "Booking cancelled.", "data": booking}


@blp.post("/<int:booking_id>/cancel")
@document_errors(AlreadyCancelled, EventStarted)
@auth_required
@blp.arguments(BookingCancelSchema)
@blp.response(200, envelope(BookingWithEventSchema, name="ChangedBookingEnvelope"))
def cancel_seats(body, booking_id):
    """Give back some of a booking's seats (owner or admin): the booking keeps the rest, its
    total recomputed, and the freed seats go to the waitlist first. All of them cancels it."""
    booking = services.cancel_booking(actor=current_user, booking_id=booking_id, quantity=body["quantity"])
    if booking.status == "cancelled":
        return {"message": "Booking cancelled.", "data": booking}
    return {"message": f"Gave back {services.tickets(body['quantity'])}; the booking keeps {booking.quantity}.",
            "data": booking}
