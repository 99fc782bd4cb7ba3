"""A realistic demo dataset made inside PostgreSQL (INSERT ... SELECT generate_series), for demos and benchmarks.

What it makes, appended to whatever is there:
- users registered over the past `months` months, each before their first booking;
- events spread from `months` ago to 3 months ahead (5% drafts without bookings,
  prices 10..250, 90% USD and 10% EUR), with Zipf-like popularity;
- bookings (1-6 tickets, mostly 1-2) made between an event's creation and its
  start, ~10% later cancelled; on the most wanted events some bookings are
  waitlist promotions (source='waitlist', seats_freed_at a few seconds to hours
  before the booking, linked to a served waitlist entry);
- waiting entries on sold-out upcoming events.
Capacity is planned per event; where the confirmed tickets exceed the plan the
event is sold out (capacity = confirmed tickets), so `booked_seats` always
equals the confirmed tickets and never exceeds capacity.

Everything is back-dated, so the caller must run a *full* rollup afterwards
(seed_demo does unless told not to).
"""
import secrets
import time
from dataclasses import dataclass, field

from sqlalchemy import text

from evently.auth.passwords import hash_password
from evently.extensions import db

DEMO_PASSWORD = "demo-password-123"
# Events whose random hotness is above this (~30%) sell out and serve their waitlists.
HOT_THRESHOLD = 0.7
# > 1: sign-ups speed up over time (and early users, booking longer, book more).
SIGNUP_GROWTH = 1.5
VENUES = ("Main Hall", "Blue Room", "Riverside Arena", "Old Theatre", "Open Air Stage", "Jazz Cellar",
          "Convention Center", "Warehouse 9")


@dataclass
class SeedReport:
    users: int = 0
    events: int = 0
    bookings: int = 0
    cancelled: int = 0
    promotions: int = 0
    waiting_entries: int = 0
    timings: dict = field(default_factory=dict)


STEPS = [
    ("users", """
CREATE TEMP TABLE seed_users ON COMMIT DROP AS
WITH made AS (
    INSERT INTO users (email, name, password_hash, role, created_at, updated_at)
    SELECT 'demo-' || :tag || '-' || n || '@demo.evently.local', 'Demo User ' || n, :password_hash, 'user', at, at
    -- Sign-ups accelerate: the n-th of N registers at start + span * (n/N)^(1/GROWTH).
    FROM (SELECT n, now() - make_interval(days => :days)
                    + ((n::float8 / :users) ^ (1 / :growth)) * make_interval(days => :days)
                    - random() * interval '1 hour' AS at
          FROM generate_series(1, :users) n OFFSET 0) s
    RETURNING id, created_at
)
SELECT row_number() OVER (ORDER BY created_at, id) AS n, id FROM made;
CREATE INDEX ON seed_users (n);
ANALYZE seed_users;
"""),
    ("events", """
CREATE TEMP TABLE seed_events ON COMMIT DROP AS
WITH planned AS (
    SELECT n,
           now() + make_interval(days => 90) - random() * make_interval(days => :days + 90) AS starts_at,
           (10 + floor(random() * 48) * 5)::numeric(12, 2) AS price,
           CASE WHEN random() < 0.1 THEN 'EUR' ELSE 'USD' END AS currency,
           CASE WHEN random() < 0.05 THEN 'draft' ELSE 'published' END AS status,
           -- Zipf-like demand, shuffled so event ids do not sort by popularity.
           1.0 / (1 + ((n * 7919) % :events)) ^ 0.8 AS weight,
           random() AS r_hot
    FROM generate_series(1, :events) n OFFSET 0
),
weighted AS (
    SELECT p.*, CASE WHEN status = 'published' THEN weight ELSE 0 END AS w,
           -- Upcoming events are the ones selling out now: about half of them are hot.
           CASE WHEN starts_at > now() THEN sqrt(r_hot) ELSE r_hot END AS hotness,
           least(now() - interval '1 day',
                 greatest(now() - make_interval(days => :days + 30),
                          starts_at - make_interval(days => 30 + floor(random() * 90)::int))) AS created_at
    FROM planned p OFFSET 0
),
shares AS (
    SELECT w.*, sum(w) OVER (ORDER BY n) AS cum_hi, sum(w) OVER () AS total FROM weighted w
),
made AS (
    INSERT INTO events (title, description, venue, starts_at, ends_at, capacity, booked_seats, price, currency,
                        status, max_per_booking, created_at, updated_at)
    SELECT 'Demo Event ' || :tag || ' #' || n, 'Demo data from flask seed-demo.',
           (CAST(:venues AS text[]))[1 + n % :venue_count],
           starts_at, starts_at + interval '3 hours', 1, 0, price, currency, status, 10, created_at, created_at
    FROM shares ORDER BY n
    RETURNING id, title, starts_at, created_at, price, currency, status
)
SELECT s.n, m.id, m.starts_at, m.created_at, m.price, m.currency, m.status, s.hotness,
       least(m.starts_at, now() - interval '1 minute') AS sale_end,
       (floor(:bookings * s.cum_hi / nullif(s.total, 0)) - floor(:bookings * (s.cum_hi - s.w) / nullif(s.total, 0)))::int
           AS n_bookings
FROM shares s JOIN made m ON m.title = 'Demo Event ' || :tag || ' #' || s.n;
ANALYZE seed_events;
"""),
    ("bookings", """
WITH raw AS (
    SELECT e.id AS event_id, e.price, e.currency, e.hotness,
           (ARRAY[1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 3, 3, 4, 4, 5, 6])[1 + floor(random() * 22)::int]
               AS quantity,
           e.created_at + (random() ^ 0.5) * (e.sale_end - e.created_at) AS created_at,
           e.sale_end, random() AS r_user, random() AS r_cancel, random() AS r_promote, random() AS r_later,
           random() AS r_wait
    FROM seed_events e, generate_series(1, e.n_bookings) OFFSET 0
),
picked AS (
    -- A booker is someone already registered: users[1 .. share registered by then].
    -- (the first 3% share the bookings made before anyone else signed up).
    SELECT r.*, 1 + floor(r_user * :users * greatest(0.03, least(1, greatest(0,
               extract(epoch FROM r.created_at - (now() - make_interval(days => :days))) / (:days * 86400.0)))
               ^ :growth))::int AS user_n
    FROM raw r OFFSET 0
),
shaped AS (
    SELECT p.*, u.id AS user_id, nextval(pg_get_serial_sequence('bookings', 'id')) AS id,
           p.r_cancel < 0.10 AS cancelled,
           -- The hottest events sell out and serve their waitlists.
           p.hotness > :hot AND p.r_promote < 0.08 AS promoted
    FROM picked p JOIN seed_users u ON u.n = least(p.user_n, :users)
    OFFSET 0
)
INSERT INTO bookings (id, reference, user_id, event_id, quantity, unit_price, total_amount, currency, status,
                      cancelled_quantity, source, cancelled_at, seats_freed_at, created_at, updated_at)
SELECT id, 'EVT-DM' || translate(lpad(id::text, greatest(8, length(id::text)), '0'), '01', 'XY'), user_id,
       event_id, quantity, price, price * quantity, currency,
       CASE WHEN cancelled THEN 'cancelled' ELSE 'confirmed' END,
       CASE WHEN cancelled THEN quantity ELSE 0 END,
       CASE WHEN promoted THEN 'waitlist' ELSE 'direct' END,
       CASE WHEN cancelled THEN created_at + r_later * (sale_end - created_at) END,
       CASE WHEN promoted THEN created_at - make_interval(secs => 2 + (r_wait ^ 3) * 6 * 3600) END,
       created_at,
       CASE WHEN cancelled THEN created_at + r_later * (sale_end - created_at) ELSE created_at END
FROM shaped;
ANALYZE bookings;
"""),
    ("promotion entries", """
WITH served AS (
    INSERT INTO waitlist_entries (event_id, user_id, quantity_requested, quantity_remaining, allow_partial, status,
                                  gate_key, created_at, updated_at)
    SELECT b.event_id, b.user_id, b.quantity, 0, true, 'served', 'demo-served-' || b.id,
           greatest(e.created_at, b.seats_freed_at - random() * interval '3 days'), b.created_at
    FROM bookings b JOIN seed_events e ON e.id = b.event_id
    WHERE b.source = 'waitlist'
    RETURNING id, gate_key
)
UPDATE bookings b SET waitlist_entry_id = s.id
FROM served s WHERE s.gate_key = 'demo-served-' || b.id;
"""),
    ("capacity", """
WITH sold AS (
    SELECT e.id, e.hotness, e.status, coalesce(sum(b.quantity) FILTER (WHERE b.status = 'confirmed'), 0) AS confirmed
    FROM seed_events e LEFT JOIN bookings b ON b.event_id = e.id
    GROUP BY e.id, e.hotness, e.status
)
UPDATE events e
SET booked_seats = sold.confirmed,
    -- Planned capacity: round numbers, below demand for the hot events (they sell out).
    capacity = CASE WHEN sold.hotness > :hot AND sold.confirmed > 0 THEN sold.confirmed
                    ELSE greatest(100, ceil(sold.confirmed * (1.1 + sold.hotness) / 50) * 50)::int END
FROM sold WHERE sold.id = e.id;
"""),
    ("waiting entries", """
INSERT INTO waitlist_entries (event_id, user_id, quantity_requested, quantity_remaining, allow_partial, status,
                              gate_key, created_at, updated_at)
SELECT event_id, user_id, quantity, quantity, true, 'waiting', gate_key, at, at
FROM (SELECT e.id AS event_id, u.id AS user_id, 'demo-waiting-' || e.id || '-' || k AS gate_key,
             1 + floor(random() * 4)::int AS quantity, now() - random() * interval '20 days' AS at
      FROM seed_events e
      JOIN events live ON live.id = e.id AND live.booked_seats >= live.capacity
      CROSS JOIN generate_series(1, least(:waiters, :users)) k
      JOIN seed_users u ON u.n = 1 + ((e.n * 7919 + k * 4729) % :users)
      WHERE e.status = 'published' AND e.starts_at > now()
      OFFSET 0) s
ON CONFLICT DO NOTHING;
"""),
    ("user registration dates", """
UPDATE users u SET created_at = f.at, updated_at = f.at
FROM (SELECT user_id, least(min(u.created_at), min(b.created_at) - random() * interval '30 days') AS at
      FROM bookings b JOIN seed_users s ON s.id = b.user_id JOIN users u ON u.id = b.user_id
      GROUP BY user_id OFFSET 0) f
WHERE f.user_id = u.id;
ANALYZE users;
ANALYZE events;
ANALYZE waitlist_entries;
"""),
]

REPORT = """
SELECT (SELECT count(*) FROM seed_users) AS users,
       (SELECT count(*) FROM seed_events) AS events,
       count(*) AS bookings,
       count(*) FILTER (WHERE b.status = 'cancelled') AS cancelled,
       count(*) FILTER (WHERE b.source = 'waitlist') AS promotions,
       (SELECT count(*) FROM waitlist_entries w JOIN seed_events e ON e.id = w.event_id WHERE w.status = 'waiting')
           AS waiting_entries
FROM bookings b JOIN seed_events e ON e.id = b.event_id
"""


def seed_demo(*, events=200, users=20_000, bookings=500_000, months=12, waiters=40, seed=None):
    """Append a demo dataset in one transaction (all or nothing) and return a SeedReport.
    Raises ValueError on nonsensical sizes."""
    if events < 1 or users < 1 or bookings < 0 or months < 1:
        raise ValueError("events, users and months must be at least 1; bookings at least 0")
    params = {
        "tag": secrets.token_hex(3), "password_hash": hash_password(DEMO_PASSWORD), "days": months * 30,
        "events": events, "users": users, "bookings": bookings, "waiters": waiters, "venues": list(VENUES),
        "venue_count": len(VENUES), "hot": HOT_THRESHOLD, "growth": SIGNUP_GROWTH,
    }
    report = SeedReport()
    session = db.session
    session.rollback()
    try:
        session.execute(text("SELECT set_config('statement_timeout', '0', true)"))
        if seed is not None:
            session.execute(text("SELECT setseed(:seed)"), {"seed": (seed % 1000) / 1000})
        for name, statements in STEPS:
            started = time.monotonic()
            for statement in _split(statements):
                session.execute(text(statement), params)
            report.timings[name] = round(time.monotonic() - started, 2)
        row = session.execute(text(REPORT)).mappings().one()
        for key in ("users", "events", "bookings", "cancelled", "promotions", "waiting_entries"):
            setattr(report, key, row[key])
        session.commit()
    except Exception:
        session.rollback()
        raise
    return report


def _split(statements):
    return [part.strip() for part in statements.split(";\n") if part.strip()]
