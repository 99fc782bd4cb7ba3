"""SQL shared by the rollup task and the read services.

Every fragment here is a constant written by us; values from requests only ever
arrive as bound parameters. Days are UTC calendar days of `bookings.created_at`.
"""

# The UTC day a booking counts on: the day it was created.
BOOKING_DAY = "(b.created_at AT TIME ZONE 'UTC')::date"

# The bookings of group `g` (an event and a UTC day), as a range on (event_id, created_at).
IN_GROUP_DAY = ("b.event_id = g.event_id"
                " AND b.created_at >= (g.day::timestamp AT TIME ZONE 'UTC')"
                " AND b.created_at < ((g.day + 1)::timestamp AT TIME ZONE 'UTC')")

# A booking changed at or after `since`: inserted, updated or cancelled.
CHANGED_SINCE = "(b.updated_at >= {since} OR b.created_at >= {since} OR b.cancelled_at >= {since})"

# The watermark, bound as :since by the caller (read just before; an older one is always safe).
# A bound value rather than a subquery lets the planner see how few rows changed and use the indexes.
SINCE = "CAST(:since AS timestamptz)"

EVENT_DAILY_COLUMNS = ("bookings", "confirmed_bookings", "tickets", "revenue", "cancellations", "cancelled_tickets",
                       "promotions", "promoted_tickets", "promotion_waits", "promotion_wait_seconds")

# One row of analytics_event_daily computed from raw bookings `b`, in EVENT_DAILY_COLUMNS order.
EVENT_DAILY_AGGREGATES = """
    count(*) AS bookings,
    count(*) FILTER (WHERE b.status = 'confirmed') AS confirmed_bookings,
    coalesce(sum(b.quantity) FILTER (WHERE b.status = 'confirmed'), 0) AS tickets,
    coalesce(sum(b.total_amount) FILTER (WHERE b.status = 'confirmed'), 0)::numeric(16, 2) AS revenue,
    count(*) FILTER (WHERE b.status = 'cancelled') AS cancellations,
    coalesce(sum(b.cancelled_quantity), 0) AS cancelled_tickets,
    count(*) FILTER (WHERE b.source = 'waitlist') AS promotions,
    coalesce(sum(b.quantity) FILTER (WHERE b.source = 'waitlist'), 0) AS promoted_tickets,
    count(*) FILTER (WHERE b.source = 'waitlist' AND b.seats_freed_at IS NOT NULL) AS promotion_waits,
    round(coalesce(sum(extract(epoch FROM b.created_at - b.seats_freed_at))
                   FILTER (WHERE b.source = 'waitlist' AND b.seats_freed_at IS NOT NULL), 0), 3)
        ::numeric(18, 3) AS promotion_wait_seconds
"""

USER_STATS_COLUMNS = ("bookings", "confirmed_bookings", "tickets", "cancellations", "first_booked_at",
                      "last_booked_at")

USER_STATS_AGGREGATES = """
    count(*) AS bookings,
    count(*) FILTER (WHERE b.status = 'confirmed') AS confirmed_bookings,
    coalesce(sum(b.quantity) FILTER (WHERE b.status = 'confirmed'), 0) AS tickets,
    count(*) FILTER (WHERE b.status = 'cancelled') AS cancellations,
    min(b.created_at) FILTER (WHERE b.status = 'confirmed') AS first_booked_at,
    max(b.created_at) FILTER (WHERE b.status = 'confirmed') AS last_booked_at
"""


def event_daily_view(*, event_filter=False, day_range=False):
    """CTEs ending in `daily`: the rollup rows of groups untouched since the watermark
    (:since), plus the groups touched since then recomputed live from `bookings`.
    Optional filters bind :event_id and :day_from/:day_to (inclusive UTC days)."""
    columns = ", ".join(f"r.{name}" for name in EVENT_DAILY_COLUMNS)
    changed_where = [CHANGED_SINCE.format(since=SINCE)]
    rollup_where = ["NOT EXISTS (SELECT 1 FROM changed g WHERE g.event_id = r.event_id AND g.day = r.day)"]
    live_where = ["TRUE"]
    if event_filter:
        changed_where.append("b.event_id = :event_id")
        rollup_where.append("r.event_id = :event_id")
    if day_range:
        rollup_where.append("r.day BETWEEN :day_from AND :day_to")
        live_where.append("g.day BETWEEN :day_from AND :day_to")
    return f"""
changed AS (
    SELECT DISTINCT b.event_id, {BOOKING_DAY} AS day
    FROM bookings b
    WHERE {" AND ".join(changed_where)}
),
daily AS (
    SELECT r.event_id, r.day, r.currency, {columns}
    FROM analytics_event_daily r
    WHERE {" AND ".join(rollup_where)}
    UNION ALL
    SELECT b.event_id, g.day, b.currency, {EVENT_DAILY_AGGREGATES}
    FROM changed g JOIN bookings b ON {IN_GROUP_DAY}
    WHERE {" AND ".join(live_where)}
    GROUP BY b.event_id, g.day, b.currency
)"""


def user_stats_view():
    """CTEs ending in `stats`: per-user rollup rows, with users whose bookings changed
    since the watermark (:since) recomputed live."""
    columns = ", ".join(f"s.{name}" for name in USER_STATS_COLUMNS)
    return f"""
changed_users AS (
    SELECT DISTINCT b.user_id FROM bookings b WHERE {CHANGED_SINCE.format(since=SINCE)}
),
stats AS (
    SELECT s.user_id, {columns}
    FROM analytics_user_stats s
    WHERE NOT EXISTS (SELECT 1 FROM changed_users c WHERE c.user_id = s.user_id)
    UNION ALL
    SELECT b.user_id, {USER_STATS_AGGREGATES}
    FROM changed_users c JOIN bookings b ON b.user_id = c.user_id
    GROUP BY b.user_id
)"""


READ_WATERMARK = "SELECT watermark FROM analytics_rollup_state WHERE name = 'bookings'"
# Before any rollup everything is "changed" and computed live.
NO_WATERMARK = "-infinity"
# Our plans are cheap when the estimates are right, but a cost above jit_above_cost
# (easy with -infinity) makes PostgreSQL spend ~400 ms compiling: never worth it here.
NO_JIT = "SELECT set_config('jit', 'off', true)"
