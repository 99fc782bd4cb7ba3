"""Analytics request and response schemas."""
from datetime import date

import marshmallow as ma
from marshmallow import validate

from evently.common.fields import Money, UtcDateTime
from evently.http import Schema

from .buckets import GRANULARITIES, MAX_BUCKETS, resolve_range

MAX_ID = 2**63 - 1  # BIGINT: a larger id is a 400, not a psycopg2 overflow
EVENT_SORTS = ("popularity", "revenue", "utilization")
# Days a range may name. Bookings cannot predate the epoch, and the bounds keep the bucket
# arithmetic (a default `from` months before `to`, the bucket after `to`) inside datetime.date's
# years 1..9999: 0001-01-02 or 9999-12-31 would otherwise overflow into a 500.
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(9998, 12, 31)
DAY_IN_RANGE = validate.Range(min=FIRST_DAY, max=LAST_DAY)


class OverviewQuerySchema(Schema):
    """No parameters: any query key is rejected."""


class RangeQuerySchema(Schema):
    day_from = ma.fields.Date(data_key="from", validate=DAY_IN_RANGE, metadata={
        "description": "First UTC day included (YYYY-MM-DD). Default: the start of the bucket "
                       "DEFAULT_BUCKETS back from `to` (30 days, 12 weeks or 12 months).", "example": "2026-11-01"})
    day_to = ma.fields.Date(data_key="to", validate=DAY_IN_RANGE, metadata={
        "description": "Last UTC day included (YYYY-MM-DD). Default: today (UTC).", "example": "2026-11-30"})

    @ma.post_load
    def resolve(self, data, **_kwargs):
        data["day_from"], data["day_to"], errors = resolve_range(data.get("day_from"), data.get("day_to"),
                                                                 data["granularity"])
        if errors:
            raise ma.ValidationError(errors)
        return data


class RevenueQuerySchema(RangeQuerySchema):
    granularity = ma.fields.String(load_default="day", validate=validate.OneOf(GRANULARITIES), metadata={
        "description": f"UTC buckets via date_trunc: day (≤{MAX_BUCKETS['day']}), week starting Monday "
                       f"(≤{MAX_BUCKETS['week']}), month (≤{MAX_BUCKETS['month']})."})
    event_id = ma.fields.Integer(strict=False, validate=validate.Range(min=1, max=MAX_ID),
                                 metadata={"description": "Only this event (404 if it does not exist).", "example": 1})


class UsersQuerySchema(RangeQuerySchema):
    granularity = ma.fields.String(load_default="month", validate=validate.OneOf(GRANULARITIES),
                                   metadata={"description": "Bucket for registrations over time (UTC)."})


class EventsQuerySchema(Schema):
    sort = ma.fields.String(load_default="popularity", validate=validate.OneOf(EVENT_SORTS),
                            metadata={"description": "popularity = tickets sold; revenue = net revenue in the "
                                                     "event's currency; utilization = booked seats / capacity."})
    limit = ma.fields.Integer(load_default=10, validate=validate.Range(min=1, max=100))


# --- responses --------------------------------------------------------------------------------------------------

class MoneyAmountSchema(Schema):
    currency = ma.fields.String()
    amount = Money()
    tickets = ma.fields.Integer()
    bookings = ma.fields.Integer(metadata={"description": "Confirmed bookings."})


class OverviewUsersSchema(Schema):
    total = ma.fields.Integer()
    admins = ma.fields.Integer()
    new_last_30_days = ma.fields.Integer()


class OverviewEventsSchema(Schema):
    total = ma.fields.Integer()
    published = ma.fields.Integer()
    draft = ma.fields.Integer()
    cancelled = ma.fields.Integer()
    upcoming = ma.fields.Integer()
    sold_out = ma.fields.Integer()
    capacity = ma.fields.Integer(metadata={"description": "Seats across published events."})
    booked_seats = ma.fields.Integer()
    utilization = ma.fields.Float(metadata={"description": "bookedSeats / capacity over published events."})


class OverviewBookingsSchema(Schema):
    total = ma.fields.Integer(metadata={"description": "Every booking ever made, cancelled or not."})
    confirmed = ma.fields.Integer()
    tickets_sold = ma.fields.Integer(metadata={"description": "Tickets in confirmed bookings."})
    cancellations = ma.fields.Integer()
    cancelled_tickets = ma.fields.Integer()
    cancellation_rate = ma.fields.Float(metadata={"description": "cancellations / total."})


class OverviewWaitlistSchema(Schema):
    entries = ma.fields.Integer(metadata={"description": "Waitlist entries still waiting."})
    seats = ma.fields.Integer(metadata={"description": "Seats those entries still want."})
    active_entries = ma.fields.Integer(metadata={"description": "Waiting entries on published, upcoming events."})
    unmet_demand = ma.fields.Integer(metadata={"description": "Seats still wanted on published, upcoming events."})
    events_with_waitlist = ma.fields.Integer()


class OverviewPromotionsSchema(Schema):
    total = ma.fields.Integer(metadata={"description": "Bookings made from the waitlist (source=waitlist)."})
    tickets = ma.fields.Integer()
    timed = ma.fields.Integer(metadata={"description": "Promotions that know when their seats were freed."})
    avg_wait_seconds = ma.fields.Float(allow_none=True, metadata={
        "description": "Mean time from the seats being freed to the promotion booking."})
    median_wait_seconds = ma.fields.Float(allow_none=True)


class OverviewSchema(Schema):
    users = ma.fields.Nested(OverviewUsersSchema)
    events = ma.fields.Nested(OverviewEventsSchema)
    bookings = ma.fields.Nested(OverviewBookingsSchema)
    revenue = ma.fields.List(ma.fields.Nested(MoneyAmountSchema), metadata={
        "description": "Net revenue (confirmed bookings) per currency; currencies are never converted."})
    waitlist = ma.fields.Nested(OverviewWaitlistSchema)
    promotions = ma.fields.Nested(OverviewPromotionsSchema)


class RevenuePointSchema(Schema):
    bucket_start = ma.fields.Date(metadata={"description": "First UTC day of the bucket."})
    currency = ma.fields.String()
    revenue = Money()
    tickets = ma.fields.Integer()
    bookings = ma.fields.Integer(metadata={"description": "Confirmed bookings created in the bucket."})


class RevenueTotalSchema(Schema):
    currency = ma.fields.String()
    revenue = Money()
    tickets = ma.fields.Integer()
    bookings = ma.fields.Integer()


class RevenueSeriesSchema(Schema):
    day_from = ma.fields.Date(data_key="from")
    day_to = ma.fields.Date(data_key="to")
    granularity = ma.fields.String()
    event_id = ma.fields.Integer(allow_none=True)
    series = ma.fields.List(ma.fields.Nested(RevenuePointSchema), metadata={
        "description": "One point per bucket and currency, zero-filled, oldest first."})
    totals = ma.fields.List(ma.fields.Nested(RevenueTotalSchema))


class EventPerformanceSchema(Schema):
    event_id = ma.fields.Integer()
    title = ma.fields.String()
    status = ma.fields.String()
    starts_at = UtcDateTime()
    capacity = ma.fields.Integer()
    booked_seats = ma.fields.Integer()
    tickets_sold = ma.fields.Integer()
    utilization = ma.fields.Float()
    revenue = Money(metadata={"description": "Net revenue in `currency` (the event's)."})
    currency = ma.fields.String()
    bookings = ma.fields.Integer()
    cancellations = ma.fields.Integer()
    cancellation_rate = ma.fields.Float()
    promotions = ma.fields.Integer()
    waitlist_entries = ma.fields.Integer()
    waitlist_seats = ma.fields.Integer()
    other_currency_bookings = ma.fields.Boolean(metadata={
        "description": "True if some bookings were made in another currency (the event's currency changed); "
                       "their revenue is in /overview, not in `revenue`."})


class RegistrationPointSchema(Schema):
    bucket_start = ma.fields.Date()
    registrations = ma.fields.Integer()


class TicketBandSchema(Schema):
    tickets = ma.fields.String(metadata={"description": "Tickets held (confirmed) per booker: 1, 2, 3-5, ..."})
    users = ma.fields.Integer()


class TicketsPerBookerSchema(Schema):
    total = ma.fields.Integer()
    avg = ma.fields.Float(allow_none=True)
    median = ma.fields.Float(allow_none=True)
    max = ma.fields.Integer(allow_none=True)
    distribution = ma.fields.List(ma.fields.Nested(TicketBandSchema))


class UserEngagementSchema(Schema):
    day_from = ma.fields.Date(data_key="from")
    day_to = ma.fields.Date(data_key="to")
    granularity = ma.fields.String()
    total_users = ma.fields.Integer()
    registrations = ma.fields.List(ma.fields.Nested(RegistrationPointSchema))
    bookers = ma.fields.Integer(metadata={"description": "Users with at least one confirmed booking."})
    active_bookers = ma.fields.Integer(metadata={
        "description": "Users with a confirmed booking made in the last activeWindowDays days."})
    active_window_days = ma.fields.Integer()
    repeat_bookers = ma.fields.Integer(metadata={"description": "Users with two or more confirmed bookings."})
    repeat_rate = ma.fields.Float(metadata={"description": "repeatBookers / bookers."})
    booker_rate = ma.fields.Float(metadata={"description": "bookers / totalUsers."})
    tickets_per_booker = ma.fields.Nested(TicketsPerBookerSchema)


class ArrivalsSchema(Schema):
    start = UtcDateTime(metadata={"description": "Start of the 5-minute bucket (UTC)."})
    arrivals = ma.fields.Integer()


class AttendanceSchema(Schema):
    event_id = ma.fields.Integer()
    tickets = ma.fields.Integer(metadata={"description": "Valid tickets: one per booked seat."})
    checked_in = ma.fields.Integer(metadata={"description": "Valid tickets checked in (undone scans excluded)."})
    not_checked_in = ma.fields.Integer()
    check_in_rate = ma.fields.Float(metadata={"description": "checkedIn ÷ tickets (0 with no tickets)."})
    no_show_rate = ma.fields.Float(allow_none=True, metadata={
        "description": "notCheckedIn ÷ tickets once the event has ended; null before."})
    ended = ma.fields.Boolean()
    arrivals = ma.fields.List(ma.fields.Nested(ArrivalsSchema), metadata={
        "description": "Check-ins per 5 minutes, oldest first; buckets without arrivals are left out."})
