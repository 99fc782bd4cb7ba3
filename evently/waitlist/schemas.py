"""Waitlist request and response schemas."""
import marshmallow as ma
from marshmallow import validate

from evently.common.fields import StrictBoolean, UtcDateTime
from evently.http import PageQuerySchema, Schema


class WaitlistJoinSchema(Schema):
    event_id = ma.fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=2**62))
    quantity = ma.fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=1000))
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
    waiting_since = UtcDateTime(attribute="created_at", dump_only=True)


class WaitlistEntryDataSchema(Schema):
    waitlist_entry = ma.fields.Nested(WaitlistEntrySchema)


class QueueQuerySchema(PageQuerySchema):
    pass
