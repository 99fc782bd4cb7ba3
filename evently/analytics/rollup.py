"""The rollup: recompute the summary rows of every group whose bookings changed since the watermark.

Idempotent by construction: a group's row is *replaced* by a fresh aggregate of
its raw bookings (upsert that only writes when a value differs), never
incremented, so running twice, or after a crash, or over an overlapping window
changes nothing. Runs never overlap: a PostgreSQL advisory lock guards them.

The watermark is read *before* the snapshot the rollup works from and is pulled
back to the start of the oldest transaction then open, minus a small margin for
timestamps computed in Python. A change not yet visible to the rollup therefore
always carries a timestamp at or after the watermark, so the next run and the
read endpoints' live delta both see it.
"""
import time
from dataclasses import asdict, dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import text

from evently.common.fields import utc_timestamp
from evently.common.locks import advisory_lock
from evently.extensions import db

from . import sql

ROLLUP_LOCK = 7_101
STATE_NAME = "bookings"
DEFAULT_MARGIN_SECONDS = 5
# A transaction open longer than this is pathological (statement_timeout is 10 s);
# it must not pin the watermark and make every read recompute hours of bookings.
MAX_LOOKBACK_SECONDS = 15 * 60
FULL_REBUILD_TIMEOUT = "600s"


@dataclass
class RollupReport:
    skipped: bool = False
    full: bool = False
    event_day_rows: int = 0
    user_rows: int = 0
    removed_rows: int = 0
    watermark: datetime | None = None
    elapsed_ms: int = 0

    def as_dict(self):
        data = asdict(self)
        data["watermark"] = utc_timestamp(self.watermark) if self.watermark else None
        return data


WATERMARK_SQL = """
SELECT greatest(
    least(now(), coalesce(min(xact_start), now())) - make_interval(secs => :margin),
    now() - make_interval(secs => :max_lookback))
FROM pg_stat_activity
WHERE datname = current_database() AND xact_start IS NOT NULL
"""

_EVENT_UPDATE = ", ".join(f"{name} = EXCLUDED.{name}" for name in sql.EVENT_DAILY_COLUMNS)
_EVENT_DIFFERS = (f"({', '.join(f'analytics_event_daily.{n}' for n in sql.EVENT_DAILY_COLUMNS)})"
                  f" IS DISTINCT FROM ({', '.join(f'EXCLUDED.{n}' for n in sql.EVENT_DAILY_COLUMNS)})")
_EVENT_UPSERT = f"""
INSERT INTO analytics_event_daily (event_id, day, currency, {", ".join(sql.EVENT_DAILY_COLUMNS)}, computed_at)
{{source}}
ON CONFLICT (event_id, day, currency) DO UPDATE SET {_EVENT_UPDATE}, computed_at = EXCLUDED.computed_at
WHERE {_EVENT_DIFFERS}
"""

EVENT_DAILY_INCREMENTAL = _EVENT_UPSERT.format(source=f"""
WITH g AS (
    SELECT DISTINCT b.event_id, {sql.BOOKING_DAY} AS day
    FROM bookings b WHERE {sql.CHANGED_SINCE.format(since=":since")}
)
SELECT b.event_id, g.day, b.currency, {sql.EVENT_DAILY_AGGREGATES}, now()
FROM g JOIN bookings b ON {sql.IN_GROUP_DAY}
GROUP BY b.event_id, g.day, b.currency""")

EVENT_DAILY_FULL = _EVENT_UPSERT.format(source=f"""
SELECT b.event_id, {sql.BOOKING_DAY}, b.currency, {sql.EVENT_DAILY_AGGREGATES}, now()
FROM bookings b
GROUP BY b.event_id, {sql.BOOKING_DAY}, b.currency""")

# Only a full rebuild can notice groups whose bookings disappeared altogether.
EVENT_DAILY_ORPHANS = """
DELETE FROM analytics_event_daily g
WHERE NOT EXISTS (
    SELECT 1 FROM bookings b
    WHERE b.currency = g.currency AND b.event_id = g.event_id
      AND b.created_at >= (g.day::timestamp AT TIME ZONE 'UTC')
      AND b.created_at < ((g.day + 1)::timestamp AT TIME ZONE 'UTC'))
"""

_USER_UPDATE = ", ".join(f"{name} = EXCLUDED.{name}" for name in sql.USER_STATS_COLUMNS)
_USER_DIFFERS = (f"({', '.join(f'analytics_user_stats.{n}' for n in sql.USER_STATS_COLUMNS)})"
                 f" IS DISTINCT FROM ({', '.join(f'EXCLUDED.{n}' for n in sql.USER_STATS_COLUMNS)})")
_USER_UPSERT = f"""
INSERT INTO analytics_user_stats (user_id, {", ".join(sql.USER_STATS_COLUMNS)}, computed_at)
{{source}}
ON CONFLICT (user_id) DO UPDATE SET {_USER_UPDATE}, computed_at = EXCLUDED.computed_at
WHERE {_USER_DIFFERS}
"""

USER_STATS_INCREMENTAL = _USER_UPSERT.format(source=f"""
SELECT b.user_id, {sql.USER_STATS_AGGREGATES}, now()
FROM bookings b
WHERE b.user_id IN (SELECT b.user_id FROM bookings b WHERE {sql.CHANGED_SINCE.format(since=":since")})
GROUP BY b.user_id""")

USER_STATS_FULL = _USER_UPSERT.format(source=f"""
SELECT b.user_id, {sql.USER_STATS_AGGREGATES}, now()
FROM bookings b
GROUP BY b.user_id""")

USER_STATS_ORPHANS = """
DELETE FROM analytics_user_stats s WHERE NOT EXISTS (SELECT 1 FROM bookings b WHERE b.user_id = s.user_id)
"""


def run_rollup(*, full=False):
    """Bring the rollup tables up to date; `full` recomputes every group instead of
    the changed ones (needed after bulk-loading back-dated rows). Returns a
    RollupReport with skipped=True when another run holds the lock. Raises
    whatever PostgreSQL raises; nothing is half-written (one transaction)."""
    with advisory_lock(ROLLUP_LOCK) as acquired:
        if not acquired:
            return RollupReport(skipped=True)
        return _rollup(full=full)


def _rollup(*, full):
    started = time.monotonic()
    session = db.session
    # Read the new watermark in its own transaction, strictly before the rollup's snapshots.
    session.rollback()
    margin = current_app.config.get("ANALYTICS_WATERMARK_MARGIN_SECONDS", DEFAULT_MARGIN_SECONDS)
    new_watermark = session.execute(text(WATERMARK_SQL),
                                    {"margin": margin, "max_lookback": MAX_LOOKBACK_SECONDS}).scalar_one()
    session.commit()
    try:
        session.execute(text(sql.NO_JIT))
        session.execute(text("INSERT INTO analytics_rollup_state (name) VALUES (:name) ON CONFLICT DO NOTHING"),
                        {"name": STATE_NAME})
        since = session.execute(text("SELECT watermark FROM analytics_rollup_state WHERE name = :name FOR UPDATE"),
                                {"name": STATE_NAME}).scalar_one()
        report = RollupReport(full=full or since is None, watermark=new_watermark)
        if report.full:
            session.execute(text("SELECT set_config('statement_timeout', :timeout, true)"),
                            {"timeout": FULL_REBUILD_TIMEOUT})
            report.event_day_rows = session.execute(text(EVENT_DAILY_FULL)).rowcount
            report.user_rows = session.execute(text(USER_STATS_FULL)).rowcount
            report.removed_rows = (session.execute(text(EVENT_DAILY_ORPHANS)).rowcount
                                   + session.execute(text(USER_STATS_ORPHANS)).rowcount)
        else:
            report.event_day_rows = session.execute(text(EVENT_DAILY_INCREMENTAL), {"since": since}).rowcount
            report.user_rows = session.execute(text(USER_STATS_INCREMENTAL), {"since": since}).rowcount
        report.elapsed_ms = int((time.monotonic() - started) * 1000)
        session.execute(text("""
            UPDATE analytics_rollup_state
            SET watermark = :watermark, last_run_at = now(), last_run_ms = :ms, last_run_groups = :groups
            WHERE name = :name"""), {"watermark": new_watermark, "ms": report.elapsed_ms,
                                      "groups": report.event_day_rows + report.user_rows, "name": STATE_NAME})
        session.commit()
    except Exception:
        session.rollback()
        raise
    return report
