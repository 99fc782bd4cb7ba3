"""Analytics read services: overview, revenue series, event performance, user engagement.

Booking numbers come from the rollup tables plus a live recomputation of the
groups changed since the rollup watermark (see `sql.event_daily_view`), so they
are exact as of the request without scanning every booking.

Conventions (documented in the API):
- Revenue is confirmed bookings net of cancellations, bucketed by the UTC day
  the booking was *created*; a later cancellation removes it from that day.
- Money is never converted between currencies: revenue is reported per currency.
- Cancellation rate = cancelled bookings / all bookings ever created.
"""
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import text

from evently.errors import NotFound
from evently.events.models import Event
from evently.extensions import db

from . import sql
from .buckets import bucket_starts

DEFAULT_CURRENCY = "USD"
ACTIVE_BOOKER_DAYS = 30
TICKET_BANDS = (("1", 1, 1), ("2", 2, 2), ("3-5", 3, 5), ("6-10", 6, 10), ("11-20", 11, 20), ("21+", 21, None))

# The only ORDER BY expressions /events can use: chosen by key, never built from input.
EVENT_SORTS = {
    "popularity": "tickets_sold DESC, bookings DESC",
    "revenue": "revenue DESC, tickets_sold DESC",
    "utilization": "utilization DESC, tickets_sold DESC",
}


def _ratio(part, whole, places=4):
    if not whole:
        return 0.0
    return round(float(Decimal(part) / Decimal(whole)), places)


def _seconds(value):
    return None if value is None else round(float(value), 1)


def _begin_read():
    """Prepare this transaction for analytics reads; return the rollup watermark to bind as :since."""
    db.session.execute(text(sql.NO_JIT))
    return db.session.execute(text(sql.READ_WATERMARK)).scalar() or sql.NO_WATERMARK


# --- overview ---------------------------------------------------------------------------------------------------

OVERVIEW_BOOKINGS = f"""
WITH {sql.event_daily_view()}
SELECT currency,
       sum(bookings) AS bookings, sum(confirmed_bookings) AS confirmed_bookings, sum(tickets) AS tickets,
       sum(revenue) AS revenue, sum(cancellations) AS cancellations, sum(cancelled_tickets) AS cancelled_tickets,
       sum(promotions) AS promotions, sum(promoted_tickets) AS promoted_tickets,
       sum(promotion_waits) AS promotion_waits, sum(promotion_wait_seconds) AS promotion_wait_seconds
FROM daily
GROUP BY currency
ORDER BY currency
"""

OVERVIEW_USERS = """
SELECT count(*) AS total,
       count(*) FILTER (WHERE role = 'admin') AS admins,
       count(*) FILTER (WHERE created_at >= now() - make_interval(days => :days)) AS recent
FROM users
"""

OVERVIEW_EVENTS = """
SELECT count(*) AS total,
       count(*) FILTER (WHERE status = 'published') AS published,
       count(*) FILTER (WHERE status = 'draft') AS draft,
       count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
       count(*) FILTER (WHERE status = 'published' AND starts_at > now()) AS upcoming,
       coalesce(sum(capacity) FILTER (WHERE status = 'published'), 0) AS capacity,
       coalesce(sum(booked_seats) FILTER (WHERE status = 'published'), 0) AS booked_seats,
       count(*) FILTER (WHERE status = 'published' AND capacity > 0 AND booked_seats >= capacity) AS sold_out
FROM events
"""

# Waitlists: every waiting entry, and the demand still unmet on events that can still happen.
OVERVIEW_WAITLIST = """
SELECT count(*) AS entries,
       coalesce(sum(w.quantity_remaining), 0) AS seats,
       count(*) FILTER (WHERE e.status = 'published' AND e.starts_at > now()) AS active_entries,
       coalesce(sum(w.quantity_remaining) FILTER (WHERE e.status = 'published' AND e.starts_at > now()), 0)
           AS unmet_demand,
       count(DISTINCT w.event_id) FILTER (WHERE e.status = 'published' AND e.starts_at > now()) AS events
FROM waitlist_entries w JOIN events e ON e.id = w.event_id
WHERE w.status = 'waiting'
"""

# Medians do not add up across days, so this one reads the promotions themselves
# (index-only over the partial ix_bookings_promotion_wait; promotions are few).
PROMOTION_WAIT_MEDIAN = """
SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM created_at - seats_freed_at))
FROM bookings
WHERE source = 'waitlist' AND seats_freed_at IS NOT NULL
"""


@dataclass
class Overview:
    users: dict
    events: dict
    bookings: dict
    revenue: list
    waitlist: dict
    promotions: dict


def get_overview():
    """Totals and rates across the whole platform. Raises nothing of its own."""
    session = db.session
    since = _begin_read()
    rows = session.execute(text(OVERVIEW_BOOKINGS), {"since": since}).mappings().all()
    users = session.execute(text(OVERVIEW_USERS), {"days": ACTIVE_BOOKER_DAYS}).mappings().one()
    events = session.execute(text(OVERVIEW_EVENTS)).mappings().one()
    waitlist = session.execute(text(OVERVIEW_WAITLIST)).mappings().one()
    median_wait = session.execute(text(PROMOTION_WAIT_MEDIAN)).scalar()

    def total(column):
        return int(sum(row[column] for row in rows))

    waits, wait_seconds = total("promotion_waits"), sum((row["promotion_wait_seconds"] for row in rows), Decimal(0))
    bookings = {
        "total": total("bookings"),
        "confirmed": total("confirmed_bookings"),
        "tickets_sold": total("tickets"),
        "cancellations": total("cancellations"),
        "cancelled_tickets": total("cancelled_tickets"),
        "cancellation_rate": _ratio(total("cancellations"), total("bookings")),
    }
    return Overview(
        users={"total": users["total"], "admins": users["admins"], "new_last_30_days": users["recent"]},
        events={
            "total": events["total"], "published": events["published"], "draft": events["draft"],
            "cancelled": events["cancelled"], "upcoming": events["upcoming"], "sold_out": events["sold_out"],
            "capacity": int(events["capacity"]), "booked_seats": int(events["booked_seats"]),
            "utilization": _ratio(events["booked_seats"], events["capacity"]),
        },
        bookings=bookings,
        revenue=[{"currency": row["currency"], "amount": row["revenue"], "tickets": int(row["tickets"]),
                  "bookings": int(row["confirmed_bookings"])} for row in rows],
        waitlist={
            "entries": waitlist["entries"], "seats": int(waitlist["seats"]),
            "active_entries": waitlist["active_entries"], "unmet_demand": int(waitlist["unmet_demand"]),
            "events_with_waitlist": waitlist["events"],
        },
        promotions={
            "total": total("promotions"), "tickets": total("promoted_tickets"), "timed": waits,
            "avg_wait_seconds": _seconds(wait_seconds / waits) if waits else None,
            "median_wait_seconds": _seconds(median_wait),
        },
    )


def _as_date(value):
    return value if isinstance(value, date) else date.fromisoformat(str(value))


# --- revenue ----------------------------------------------------------------------------------------------------

def _revenue_sql(event_filter):
    return f"""
WITH {sql.event_daily_view(event_filter=event_filter, day_range=True)}
SELECT date_trunc(:unit, day::timestamp)::date AS bucket_start, currency,
       sum(revenue) AS revenue, sum(tickets) AS tickets, sum(confirmed_bookings) AS bookings
FROM daily
GROUP BY 1, 2
"""


REVENUE_SQL = {flag: _revenue_sql(flag) for flag in (False, True)}


@dataclass
class RevenueSeries:
    day_from: date
    day_to: date
    granularity: str
    event_id: int | None
    series: list
    totals: list


def get_revenue_series(*, day_from, day_to, granularity="day", event_id=None):
    """Net revenue, tickets and confirmed bookings per UTC bucket and currency, zero-filled,
    for the inclusive UTC days [day_from, day_to] (validated by the schema).
    Raises NotFound (unknown event)."""
    currencies = set()
    if event_id is not None:
        event = db.session.get(Event, event_id)
        if event is None:
            raise NotFound("No event with this id.")
        currencies.add(event.currency)
    params = {"unit": granularity, "day_from": day_from, "day_to": day_to, "event_id": event_id,
              "since": _begin_read()}
    rows = db.session.execute(text(REVENUE_SQL[event_id is not None]), params).mappings().all()
    found = {(_as_date(row["bucket_start"]), row["currency"]): row for row in rows}
    currencies |= {row["currency"] for row in rows}
    currencies = sorted(currencies) or [DEFAULT_CURRENCY]
    series, totals = [], {currency: {"currency": currency, "revenue": Decimal("0.00"), "tickets": 0, "bookings": 0}
                          for currency in currencies}
    for start in bucket_starts(day_from, day_to, granularity):
        for currency in currencies:
            row = found.get((start, currency))
            point = {"bucket_start": start, "currency": currency,
                     "revenue": row["revenue"] if row else Decimal("0.00"),
                     "tickets": int(row["tickets"]) if row else 0, "bookings": int(row["bookings"]) if row else 0}
            series.append(point)
            for key in ("revenue", "tickets", "bookings"):
                totals[currency][key] += point[key]
    return RevenueSeries(day_from=day_from, day_to=day_to, granularity=granularity, event_id=event_id,
                         series=series, totals=list(totals.values()))


# --- events -----------------------------------------------------------------------------------------------------

def _event_performance_sql(sort):
    return f"""
WITH {sql.event_daily_view()},
per_event AS (
    SELECT event_id, sum(bookings) AS bookings, sum(confirmed_bookings) AS confirmed_bookings,
           sum(tickets) AS tickets_sold, sum(cancellations) AS cancellations, sum(promotions) AS promotions,
           sum(revenue) FILTER (WHERE daily.currency = e.currency) AS revenue,
           count(*) FILTER (WHERE daily.currency <> e.currency) AS other_currencies
    FROM daily JOIN events e ON e.id = daily.event_id
    GROUP BY event_id
),
waiting AS (
    SELECT event_id, count(*) AS entries, sum(quantity_remaining) AS seats
    FROM waitlist_entries WHERE status = 'waiting' GROUP BY event_id
),
ranked AS (
    SELECT e.id AS event_id, e.title, e.status, e.starts_at, e.capacity, e.booked_seats, e.currency,
           coalesce(p.bookings, 0) AS bookings, coalesce(p.confirmed_bookings, 0) AS confirmed_bookings,
           coalesce(p.tickets_sold, 0) AS tickets_sold, coalesce(p.cancellations, 0) AS cancellations,
           coalesce(p.promotions, 0) AS promotions, coalesce(p.revenue, 0) AS revenue,
           coalesce(p.other_currencies, 0) AS other_currencies,
           CASE WHEN e.capacity > 0 THEN e.booked_seats::numeric / e.capacity ELSE 0 END AS utilization,
           coalesce(w.entries, 0) AS waitlist_entries, coalesce(w.seats, 0) AS waitlist_seats
    FROM events e
    LEFT JOIN per_event p ON p.event_id = e.id
    LEFT JOIN waiting w ON w.event_id = e.id
)
SELECT * FROM ranked ORDER BY {EVENT_SORTS[sort]}, event_id LIMIT :limit
"""


EVENT_PERFORMANCE_SQL = {sort: _event_performance_sql(sort) for sort in EVENT_SORTS}


def get_event_performance(*, sort="popularity", limit=10):
    """The top `limit` events by popularity (tickets sold), revenue (in the event's
    currency, amounts compared as-is) or utilization (booked seats / capacity)."""
    since = _begin_read()
    rows = db.session.execute(text(EVENT_PERFORMANCE_SQL[sort]), {"limit": limit, "since": since}).mappings().all()
    return [{
        **{key: row[key] for key in ("event_id", "title", "status", "starts_at", "capacity", "booked_seats",
                                     "currency", "revenue")},
        "bookings": int(row["bookings"]),
        "tickets_sold": int(row["tickets_sold"]),
        "cancellations": int(row["cancellations"]),
        "cancellation_rate": _ratio(row["cancellations"], row["bookings"]),
        "promotions": int(row["promotions"]),
        "utilization": round(float(row["utilization"]), 4),
        "waitlist_entries": int(row["waitlist_entries"]),
        "waitlist_seats": int(row["waitlist_seats"]),
        "other_currency_bookings": bool(row["other_currencies"]),
    } for row in rows]


# --- users ------------------------------------------------------------------------------------------------------

_BAND_COLUMNS = ",\n       ".join(
    f"count(*) FILTER (WHERE tickets >= {low}{'' if high is None else f' AND tickets <= {high}'}) AS band_{index}"
    for index, (_label, low, high) in enumerate(TICKET_BANDS))

USER_ENGAGEMENT = f"""
WITH {sql.user_stats_view()}
SELECT count(*) AS bookers,
       count(*) FILTER (WHERE confirmed_bookings >= 2) AS repeat_bookers,
       count(*) FILTER (WHERE last_booked_at >= now() - make_interval(days => :days)) AS active_bookers,
       coalesce(sum(tickets), 0) AS tickets,
       avg(tickets) AS avg_tickets,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY tickets) AS median_tickets,
       max(tickets) AS max_tickets,
       {_BAND_COLUMNS}
FROM stats
WHERE confirmed_bookings > 0
"""

REGISTRATIONS = """
SELECT date_trunc(:unit, created_at AT TIME ZONE 'UTC')::date AS bucket_start, count(*) AS registrations
FROM users
WHERE created_at >= (CAST(:day_from AS date)::timestamp AT TIME ZONE 'UTC')
  AND created_at < ((CAST(:day_to AS date) + 1)::timestamp AT TIME ZONE 'UTC')
GROUP BY 1
"""

USER_COUNT = "SELECT count(*) FROM users"


@dataclass
class UserEngagement:
    day_from: date
    day_to: date
    granularity: str
    total_users: int
    registrations: list
    bookers: int
    active_bookers: int
    active_window_days: int
    repeat_bookers: int
    repeat_rate: float
    booker_rate: float
    tickets_per_booker: dict


def get_user_engagement(*, day_from, day_to, granularity="month"):
    """Registrations per UTC bucket, bookers (≥1 confirmed booking), active bookers (a
    confirmed booking made in the last 30 days), repeat bookers (≥2 confirmed
    bookings) and tickets per booker. Raises nothing of its own."""
    session = db.session
    since = _begin_read()
    counts = {_as_date(row.bucket_start): row.registrations for row in session.execute(
        text(REGISTRATIONS), {"unit": granularity, "day_from": day_from, "day_to": day_to})}
    stats = session.execute(text(USER_ENGAGEMENT), {"days": ACTIVE_BOOKER_DAYS, "since": since}).mappings().one()
    total_users = session.execute(text(USER_COUNT)).scalar_one()
    bookers = stats["bookers"]
    return UserEngagement(
        day_from=day_from, day_to=day_to, granularity=granularity, total_users=total_users,
        registrations=[{"bucket_start": start, "registrations": counts.get(start, 0)}
                       for start in bucket_starts(day_from, day_to, granularity)],
        bookers=bookers, active_bookers=stats["active_bookers"], active_window_days=ACTIVE_BOOKER_DAYS,
        repeat_bookers=stats["repeat_bookers"], repeat_rate=_ratio(stats["repeat_bookers"], bookers),
        booker_rate=_ratio(bookers, total_users),
        tickets_per_booker={
            "total": int(stats["tickets"]),
            "avg": round(float(stats["avg_tickets"]), 2) if stats["avg_tickets"] is not None else None,
            "median": float(stats["median_tickets"]) if stats["median_tickets"] is not None else None,
            "max": stats["max_tickets"],
            "distribution": [{"tickets": label, "users": stats[f"band_{index}"]}
                             for index, (label, _low, _high) in enumerate(TICKET_BANDS)],
        },
    )


# --- attendance (check-in at the door) ----------------------------------------------------------------------------

ARRIVAL_BUCKET_MINUTES = 5
# Live, not rolled up: one event's check-ins are read through ix_checkins_event_time. A ticket
# counts while valid and checked in (an undone scan does not count).
ATTENDANCE_EVENT = text("SELECT id, booked_seats, ends_at <= now() AS ended FROM events WHERE id = :event_id")
ARRIVALS = text(f"""
SELECT date_bin('{ARRIVAL_BUCKET_MINUTES} minutes', c.checked_in_at, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS start,
       count(*) AS arrivals
FROM checkins c JOIN tickets t ON t.id = c.ticket_id
WHERE c.event_id = :event_id AND c.undone_at IS NULL AND t.status = 'valid'
GROUP BY 1 ORDER BY 1
""")


@dataclass
class Attendance:
    event_id: int
    tickets: int
    checked_in: int
    not_checked_in: int
    check_in_rate: float
    no_show_rate: float | None
    ended: bool
    arrivals: list


def get_event_attendance(*, event_id):
    """Check-ins of one event: valid tickets (one per booked seat), how many were let in, the
    no-show rate once the event has ended (None before), and arrivals per 5 minutes (UTC
    buckets on the clock's 5-minute marks; buckets without arrivals are left out).
    Raises NotFound."""
    event = db.session.execute(ATTENDANCE_EVENT, {"event_id": event_id}).first()
    if event is None:
        db.session.rollback()
        raise NotFound("Event not found.")
    arrivals = [{"start": row.start, "arrivals": row.arrivals}
                for row in db.session.execute(ARRIVALS, {"event_id": event_id})]
    db.session.rollback()
    checked_in = sum(bucket["arrivals"] for bucket in arrivals)
    tickets = event.booked_seats
    return Attendance(event_id=event_id, tickets=tickets, checked_in=checked_in,
                      not_checked_in=max(tickets - checked_in, 0), check_in_rate=_ratio(checked_in, tickets),
                      no_show_rate=_ratio(max(tickets - checked_in, 0), tickets) if event.ended else None,
                      ended=event.ended, arrivals=arrivals)
