"""Waitlist request and response schemas."""
import marshmallow as ma
from marshmallow import validate

from evently.common.fields import SINGLE_LINE_PATTERN, StrictBoolean, UtcDateTime, single_line
from evently.http import PageQuerySchema, Schema


class WaitlistJoinSchema(Schema):
    event_id = ma.fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=2**62),
                                 metadata={"example": 1})
    quantity = ma.fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=1000),
                                 metadata={"example": 2})
    allow_partial = StrictBoolean(load_default=True, metadata={
        "description": "Accept part of the seats when fewer are freed (default). All-or-nothing entries keep "
                       "their place but are skipped until enough seats are free at once."})


class WaitlistEntrySchema(Schema):
    id = ma.fields.Integer()
    event_id = ma.fields.Integer()
    user_id = ma.fields.Integer()  # whose place it is, as a booking says whose seats they are
    position = ma.fields.Integer(allow_none=True, metadata={
        "description": "1 = next served; null once not waiting. In the answer to a join, the place the seat "
                       "gate gave it (no two joins get the same); in GET /api/waitlist, live."})
    quantity = ma.fields.Integer(attribute="quantity_remaining", metadata={"description": "Seats still wanted"})
    quantity_requested = ma.fields.Integer()
    allow_partial = ma.fields.Boolean()
    status = ma.fields.String()
    created_at = UtcDateTime()


class QueueEntrySchema(WaitlistEntrySchema):
    """An entry as an organiser sees it: who waits, for what, since when."""
    name = ma.fields.String()
    email = ma.fields.String()
    waiting_since = UtcDateTime(attribute="created_at", dump_only=True)
    joined_at = UtcDateTime(attribute="created_at", dump_only=True)
    waited_seconds = ma.fields.Integer(metadata={"description": "Seconds since the entry joined the queue."})


class WaitlistEntryDataSchema(Schema):
    waitlist_entry = ma.fields.Nested(WaitlistEntrySchema)


class QueueQuerySchema(PageQuerySchema):
    pass


def _reason(example, **kwargs):
    return ma.fields.String(validate=[validate.Length(min=1, max=500), single_line], metadata={
        "description": "Why (kept in the audit log; told to the user when an entry is removed).",
        "pattern": SINGLE_LINE_PATTERN, "example": example}, **kwargs)


class RemoveEntrySchema(Schema):
    reason = _reason("Asked by phone to be taken off the list.")


class MoveEntrySchema(Schema):
    position = ma.fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=1_000_000),
                                 metadata={"description": "The new place, 1 = next served.", "example": 1})
    reason = _reason("Kept a place for the soloist's family.")


class PromoteSchema(Schema):
    seats = ma.fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=1_000_000),
                              metadata={"description": "Free seats to hand out, in queue order.", "example": 2})
    reason = _reason("Seats released by the sponsor.")


class PromotedSchema(Schema):
    entry_id = ma.fields.Integer()
    booking_id = ma.fields.Integer()
    quantity = ma.fields.Integer()


class PromotionReportSchema(Schema):
    promotions = ma.fields.Nested(PromotedSchema, many=True)
    seats = ma.fields.Integer()
