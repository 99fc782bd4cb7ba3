"""Tickets, check-in keys and check-in request and response schemas."""
import marshmallow as ma
from marshmallow import validate

from evently.common.fields import SINGLE_LINE_PATTERN, UtcDateTime, single_line
from evently.http import Schema

from . import codes


class TicketSchema(Schema):
    id = ma.fields.Integer()
    booking_id = ma.fields.Integer()
    event_id = ma.fields.Integer()
    seat_index = ma.fields.Integer(metadata={"description": "1..n within the booking."})
    status = ma.fields.String(metadata={"description": "valid | void (its seat was given back or the event cancelled)"})
    voided_at = UtcDateTime(allow_none=True)
    checked_in_at = UtcDateTime(allow_none=True, metadata={"description": "When it was let in; null if not (yet)."})
    code = ma.fields.String(metadata={
        "description": "What the QR code holds: `EVT1:<ticketId>:<eventId>:<seatIndex>:<bookingReference>:<signature>`, "
                       "the signature (Ed25519, unpadded base32) covering everything before it. Verify it offline "
                       "with GET /api/events/{eventId}/checkin-key."})


class CheckinKeySchema(Schema):
    event_id = ma.fields.Integer()
    algorithm = ma.fields.String(metadata={"example": codes.ALGORITHM})
    public_key = ma.fields.String(metadata={"description": "The raw 32-byte Ed25519 public key, unpadded base64url."})
    public_key_pem = ma.fields.String(metadata={"description": "The same key as PEM (SubjectPublicKeyInfo)."})
    code_format = ma.fields.String()


class CheckInCreateSchema(Schema):
    code = ma.fields.String(required=True, validate=validate.Length(min=1, max=codes.MAX_LENGTH),
                            metadata={"description": "The ticket's code, as scanned from its QR code.",
                                      # The shape of a code; only a code this server signed is admitted.
                                      "example": "EVT1:1:1:1:EVT-7K2M9QXA:" + "A" * 103})


class ScannerSchema(Schema):
    id = ma.fields.Integer(allow_none=True)
    name = ma.fields.String(allow_none=True)


class CheckInSchema(Schema):
    ticket_id = ma.fields.Integer()
    event_id = ma.fields.Integer()
    booking_reference = ma.fields.String()
    name = ma.fields.String(metadata={"description": "The attendee (the booking's holder)."})
    quantity = ma.fields.Integer(metadata={"description": "Seats the booking holds."})
    seat_index = ma.fields.Integer()
    checked_in_at = UtcDateTime()
    checked_in_by = ma.fields.Nested(ScannerSchema)


class UndoCheckInSchema(Schema):
    reason = ma.fields.String(validate=[validate.Length(min=1, max=500), single_line], metadata={
        "description": "Why (kept in the event's audit log).", "pattern": SINGLE_LINE_PATTERN,
        "example": "Scanned the wrong ticket."})


class UndoneSchema(Schema):
    ticket_id = ma.fields.Integer()
    event_id = ma.fields.Integer()
    checked_in_at = UtcDateTime()
    undone_at = UtcDateTime()
