"""Events request and response schemas."""
from datetime import datetime, timezone
from decimal import Decimal

import marshmallow as ma
from marshmallow import validate

from evently.common import localtime
from evently.common.fields import SINGLE_LINE_PATTERN, Money, StrictBoolean, UtcDateTime, not_blank, single_line
from evently.http import PageQuerySchema, Schema

SORTS = ("startsAt", "-startsAt", "popularity", "price", "-price")
ADMIN_STATUS_FILTERS = ("draft", "published", "cancelled", "all")
MAX_PRICE = Decimal("99999999.99")
MAX_CAPACITY = 1_000_000
DESCRIPTION_LENGTH = validate.Length(max=10_000)
EDITABLE_STATUSES = validate.OneOf(("draft", "published"))


class Price(Money):
    """Money on input that refuses sub-cent amounts instead of silently rounding them."""

    default_error_messages = {"places": "Use at most 2 decimal places."}

    def _deserialize(self, value, attr, data, **kwargs):
        exact = ma.fields.Decimal(allow_nan=False)._validated(value)
        rounded = super()._deserialize(value, attr, data, **kwargs)
        if rounded != exact:
            raise self.make_error("places")
        return rounded


# The examples make one event that Swagger UI's "Try it out" can create as shown (startsAt must be
# in the future: tests/test_openapi_examples.py sends them, and says so once this date has passed).
EXAMPLE_STARTS_AT, EXAMPLE_ENDS_AT = "2030-09-14T19:00:00Z", "2030-09-14T22:30:00Z"


def _title(**kwargs):
    return ma.fields.String(validate=[validate.Length(min=1, max=200), not_blank, single_line],
                            metadata={"pattern": SINGLE_LINE_PATTERN, "example": "Jazz Night: the Blue Note Trio"},
                            **kwargs)


def _description(**kwargs):
    return ma.fields.String(validate=DESCRIPTION_LENGTH, metadata={
        "example": "Two sets of standards and originals. Doors open at 18:30."}, **kwargs)


def _venue(**kwargs):
    return ma.fields.String(validate=[validate.Length(min=1, max=200), not_blank, single_line],
                            metadata={"pattern": SINGLE_LINE_PATTERN, "example": "Blue Note, Milan"}, **kwargs)


def _starts_at(**kwargs):
    return UtcDateTime(metadata={"example": EXAMPLE_STARTS_AT}, **kwargs)


def _ends_at(**kwargs):
    return UtcDateTime(metadata={"example": EXAMPLE_ENDS_AT}, **kwargs)


def _capacity(**kwargs):
    return ma.fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_CAPACITY),
                             metadata={"example": 120}, **kwargs)


def _price(**kwargs):
    return Price(validate=validate.Range(min=Decimal(0), max=MAX_PRICE), metadata={"example": Decimal("25.00")},
                 **kwargs)


def _currency(**kwargs):
    # `$` would also accept a trailing newline in Python; the exact length rules it out,
    # and the pattern stays valid ECMA regex for the OpenAPI document (`\Z` is not).
    message = "Use a 3-letter uppercase ISO 4217 code."
    return ma.fields.String(validate=[validate.Length(equal=3, error=message),
                                      validate.Regexp(r"^[A-Z]{3}$", error=message)], metadata={"example": "EUR"},
                            **kwargs)


def _status(**kwargs):
    return ma.fields.String(validate=EDITABLE_STATUSES, metadata={"example": "published"}, **kwargs)


def _max_per_booking(**kwargs):
    return ma.fields.Integer(strict=True, validate=validate.Range(min=1, max=100), metadata={"example": 6}, **kwargs)


def _max_per_user(**kwargs):
    return ma.fields.Integer(strict=True, allow_none=True, validate=validate.Range(min=1, max=MAX_CAPACITY), metadata={
        "description": "The most seats one user may hold for this event, confirmed plus waiting; null: no cap.",
        "example": 10}, **kwargs)


def _waitlist_paused(**kwargs):
    return StrictBoolean(metadata={
        "description": "While true, free seats are held for the waitlist (not sold directly) and nobody is "
                       "promoted; setting it back to false promotes at once.", "example": False}, **kwargs)


def known_zone(value):
    if not localtime.is_known_zone(value):
        raise ma.ValidationError("Use an IANA time zone name, such as Europe/Paris or UTC.")


def _timezone(**kwargs):
    return ma.fields.String(validate=[validate.Length(min=1, max=64), known_zone], metadata={
        "description": "IANA time zone of the venue (default UTC). The API keeps UTC; mails, calendar files and "
                       "reminders show the event's local time.", "example": "Europe/Paris"}, **kwargs)



def check_schedule(data, *, require_future):
    starts_at, ends_at = data.get("starts_at"), data.get("ends_at")
    if require_future and starts_at is not None and starts_at <= datetime.now(timezone.utc):
        raise ma.ValidationError("Must be in the future.", "startsAt")
    if starts_at is not None and ends_at is not None and ends_at <= starts_at:
        raise ma.ValidationError("Must be after startsAt.", "endsAt")


class EventCreateSchema(Schema):
    title = _title(required=True)
    description = _description(load_default="")
    venue = _venue(required=True)
    starts_at = _starts_at(required=True)
    ends_at = _ends_at(required=True)
    capacity = _capacity(required=True)
    price = _price(required=True)
    currency = _currency(load_default="USD")
    status = _status(load_default="draft")
    # Missing means the configured DEFAULT_MAX_PER_BOOKING (the service reads config).
    max_per_booking = _max_per_booking()
    max_per_user = _max_per_user(load_default=None)
    waitlist_paused = _waitlist_paused(load_default=False)
    timezone = _timezone(load_default=localtime.UTC)

    @ma.validates_schema
    def validate_schedule(self, data, **_kwargs):
        check_schedule(data, require_future=True)


class EventUpdateSchema(Schema):
    """Partial update: every field optional, at least one required. Checks that need
    the stored event (endsAt against a stored startsAt, capacity against booked seats)
    are made by the service."""

    title = _title()
    description = _description()
    venue = _venue()
    starts_at = _starts_at()
    ends_at = _ends_at()
    capacity = _capacity()
    price = _price()
    currency = _currency()
    status = _status()
    max_per_booking = _max_per_booking()
    max_per_user = _max_per_user()
    waitlist_paused = _waitlist_paused()
    timezone = _timezone()

    @ma.validates_schema
    def validate_update(self, data, **_kwargs):
        if not data:
            raise ma.ValidationError("Send at least one field to change.")
        check_schedule(data, require_future=True)


class EventQuerySchema(PageQuerySchema):
    q = ma.fields.String(validate=validate.Length(min=1, max=100),
                         metadata={"description": "Case-insensitive substring of the title or description.",
                                   "example": "jazz"})
    starts_from = UtcDateTime(data_key="from", metadata={
        "description": "Events starting at or after this instant (default: now, i.e. upcoming only).",
        "example": "2027-01-01T00:00:00Z"})
    to = UtcDateTime(metadata={"description": "Events starting at or before this instant.",
                               "example": "2030-12-31T23:59:59Z"})
    venue = ma.fields.String(validate=validate.Length(min=1, max=200),
                             metadata={"description": "Case-insensitive exact venue name.", "example": "Blue Note, Milan"})
    sort = ma.fields.String(load_default="startsAt", validate=validate.OneOf(SORTS),
                            metadata={"description": "popularity = most booked seats first."})
    status = ma.fields.String(validate=validate.OneOf(ADMIN_STATUS_FILTERS),
                              metadata={"description": "Admins only (401/403 otherwise); default published."})

    @ma.validates_schema
    def validate_range(self, data, **_kwargs):
        if "starts_from" in data and "to" in data and data["starts_from"] > data["to"]:
            raise ma.ValidationError("Must not be after `to`.", "from")


class EventSchema(Schema):
    id = ma.fields.Integer()
    title = ma.fields.String()
    description = ma.fields.String()
    venue = ma.fields.String()
    starts_at = UtcDateTime()
    ends_at = UtcDateTime()
    capacity = ma.fields.Integer()
    booked_seats = ma.fields.Integer()
    available_seats = ma.fields.Integer(metadata={"description": "Live from the seat gate."})
    waitlist_count = ma.fields.Integer(metadata={
        "description": "Waitlist entries still waiting: live from the seat gate (joins in flight included) "
                       "when the event has one."})
    price = Money()
    currency = ma.fields.String()
    status = ma.fields.String()
    max_per_booking = ma.fields.Integer()
    max_per_user = ma.fields.Integer(allow_none=True)
    waitlist_paused = ma.fields.Boolean()
    timezone = ma.fields.String(metadata={"description": "IANA time zone of the venue; times here stay UTC."})
    created_at = UtcDateTime()
    updated_at = UtcDateTime()


class JobSchema(Schema):
    id = ma.fields.Integer()
    kind = ma.fields.String()
    status = ma.fields.String(metadata={"description": "queued | running | done | failed"})
    total = ma.fields.Integer()
    done = ma.fields.Integer()
    created_at = UtcDateTime()
    updated_at = UtcDateTime()


class EventRemovalSchema(EventSchema):
    """DELETE answer: `{id, deleted: true}` when the event was removed, else the
    cancelled event with the job that cancels its bookings and notifies everyone."""

    deleted = ma.fields.Boolean()
    cancellation_job = ma.fields.Nested(JobSchema, allow_none=True)


def _booking_status(**kwargs):
    return ma.fields.String(validate=validate.OneOf(("confirmed", "cancelled")), metadata={
        "description": "Only bookings in this status (default: all).", "example": "confirmed"}, **kwargs)


class AttendeeQuerySchema(PageQuerySchema):
    status = _booking_status()


class AttendeeExportQuerySchema(Schema):
    status = _booking_status()


class AttendeeSchema(Schema):
    booking_reference = ma.fields.String()
    name = ma.fields.String()
    email = ma.fields.String()
    quantity = ma.fields.Integer()
    status = ma.fields.String()
    source = ma.fields.String()
    booked_at = UtcDateTime()
