"""Booking request and response schemas."""
import marshmallow as ma
from marshmallow import validate

from evently.common.fields import Money, StrictBoolean, UtcDateTime
from evently.http import PageQuerySchema, Schema
from evently.waitlist.schemas import WaitlistEntrySchema


class BookingCreateSchema(Schema):
    event_id = ma.fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=2**62),
                                 metadata={"example": 1})
    quantity = ma.fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=1000),
                                 metadata={"example": 2})
    allow_partial = StrictBoolean(load_default=True)
    join_waitlist = StrictBoolean(load_default=True)


class BookingQuerySchema(PageQuerySchema):
    status = ma.fields.String(validate=validate.OneOf(["confirmed", "cancelled"]), metadata={"example": "confirmed"})
    event_id = ma.fields.Integer(validate=validate.Range(min=1, max=2**62), metadata={"example": 1})
    all_users = ma.fields.Boolean(load_default=False, metadata={"description": "Admins only: everyone's bookings"})


class BookingSchema(Schema):
    id = ma.fields.Integer()
    booking_reference = ma.fields.String(attribute="reference")
    event_id = ma.fields.Integer()
    user_id = ma.fields.Integer()
    quantity = ma.fields.Integer(metadata={"description": "Seats the booking holds (once cancelled: the seats it "
                                                          "held then)."})
    cancelled_quantity = ma.fields.Integer(metadata={"description": "Seats given back so far."})
    unit_price = Money()
    total_amount = Money()
    currency = ma.fields.String()
    status = ma.fields.String()
    source = ma.fields.String()
    created_at = UtcDateTime()
    cancelled_at = UtcDateTime(allow_none=True)


class BookedEventSchema(Schema):
    """What a booking's history row shows of its event, so a client needs no second call."""
    id = ma.fields.Integer()
    title = ma.fields.String()
    starts_at = UtcDateTime()
    venue = ma.fields.String()
    status = ma.fields.String()


class BookingWithEventSchema(BookingSchema):
    event = ma.fields.Nested(BookedEventSchema)


class BookingCancelSchema(Schema):
    quantity = ma.fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=1000),
                                 metadata={"description": "Seats to give back; all of them cancels the booking.",
                                           "example": 1})


class BookingResultSchema(Schema):
    booking = ma.fields.Nested(BookingSchema, allow_none=True)
    waitlist_entry = ma.fields.Nested(WaitlistEntrySchema, allow_none=True)
