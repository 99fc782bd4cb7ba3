"""Tickets of a booking and their QR images, an event's check-in key, and check-in at the door."""
from flask import Response, g
from flask_jwt_extended import current_user

from evently.auth.tokens import auth_required, door_required, optional_user
from evently.errors import AlreadyCheckedIn, NotFound, TicketVoid, Unauthorized
from evently.extensions import limiter
from evently.http import Blueprint, document_errors, envelope

from . import qr, services
from .schemas import CheckInCreateSchema, CheckInSchema, CheckinKeySchema, TicketSchema, UndoCheckInSchema, UndoneSchema

blp = Blueprint("tickets", __name__, url_prefix="/api", description="Tickets, QR codes and check-in at the door")


def _image_response(kind):
    return {"200": {"description": f"The ticket's code as a QR image ({qr.MEDIA_TYPES[kind]}).",
                    "content": {qr.MEDIA_TYPES[kind]: {"schema": {"type": "string", "format": "binary"}}}}}


@blp.get("/bookings/<int:booking_id>/tickets")
@auth_required
@blp.response(200, envelope(TicketSchema, many=True))
def list_tickets(booking_id):
    """The booking's tickets, one per seat, each with the code its QR image holds (owner or admin).
    Void tickets (seats given back) are listed too; their codes are refused at the door."""
    return {"message": "Tickets.", "data": services.list_tickets(actor=current_user, booking_id=booking_id)}


def _qr(booking_id, ticket_id, kind):
    image = services.ticket_image(actor=current_user, booking_id=booking_id, ticket_id=ticket_id, kind=kind)
    return Response(image, mimetype=qr.MEDIA_TYPES[kind],
                    headers={"Content-Disposition": f'inline; filename="ticket-{ticket_id}.{kind}"'})


@blp.get("/bookings/<int:booking_id>/tickets/<int:ticket_id>/qr.svg")
@document_errors(TicketVoid)
@auth_required
@blp.doc(responses=_image_response(qr.SVG))
def ticket_svg(booking_id, ticket_id):
    """The ticket's QR code as SVG (owner or admin). A void ticket is 409 TICKET_VOID."""
    return _qr(booking_id, ticket_id, qr.SVG)


@blp.get("/bookings/<int:booking_id>/tickets/<int:ticket_id>/qr.png")
@document_errors(TicketVoid)
@auth_required
@blp.doc(responses=_image_response(qr.PNG))
def ticket_png(booking_id, ticket_id):
    """The ticket's QR code as PNG (owner or admin). A void ticket is 409 TICKET_VOID."""
    return _qr(booking_id, ticket_id, qr.PNG)


@blp.get("/events/<int:event_id>/checkin-key")
@document_errors(Unauthorized)  # a bad token is refused
@blp.response(200, envelope(CheckinKeySchema))
def checkin_key(event_id):
    """The event's Ed25519 public key: a scanner holding it verifies ticket codes offline.
    Published and cancelled events for everyone; drafts for staff and admins."""
    return {"message": "Check-in key.", "data": services.checkin_key(viewer=optional_user(), event_id=event_id)}


# A door's scanners usually share one address, and the door must work while Redis (the rate
# limiter's store) is down: check-ins are for staff accounts only and skip the per-client limit.
@blp.post("/checkins")
@limiter.exempt
@document_errors(NotFound, AlreadyCheckedIn, TicketVoid)
@door_required
@blp.arguments(CheckInCreateSchema)
@blp.response(201, envelope(CheckInSchema))
@blp.doc(parameters=[{"in": "header", "name": "X-Request-ID", "required": False,
                      "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"},
                      "description": "The scan's id: the same scanner retrying with the same id gets the same "
                                     "201 instead of 409."}])
def check_in(body):
    """Check a ticket in (staff or admin): 201 with the attendee's name, the booking's quantity and
    the seat, the first time. Later scans: 409 ALREADY_CHECKED_IN with when and by whom; a
    cancelled seat: 409 TICKET_VOID; a malformed, forged or unknown code: 404."""
    admitted = services.check_in(scanner=current_user, code=body["code"], request_id=g.request_id)
    headers = {"Idempotent-Replayed": "true"} if admitted.replayed else {}
    return {"message": f"Welcome, {admitted.name}: seat {admitted.seat_index} of {admitted.quantity}.",
            "data": admitted}, 201, headers


@blp.delete("/checkins/<int:ticket_id>")
@limiter.exempt
@door_required
@blp.arguments(UndoCheckInSchema, required=False)
@blp.response(200, envelope(UndoneSchema))
def undo_check_in(body, ticket_id):
    """Undo a mistaken scan (staff or admin, audited with the optional `reason`): the ticket can be
    checked in again. 404 if it is not checked in."""
    undone = services.undo_check_in(actor=current_user, ticket_id=ticket_id, **(body or {}))
    return {"message": "Check-in undone.", "data": undone}
