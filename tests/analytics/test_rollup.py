"""The rollup task against real PostgreSQL: exact, idempotent, incremental, and never overlapping."""
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import text

from evently.analytics import rollup, tasks
from evently.analytics.models import RollupState
from evently.bookings.models import Booking
from evently.common.models import utcnow
from evently.extensions import db

from .helpers import (
    add_booking,
    all_bookings,
    backdate_changes,
    build_history,
    expected_daily,
    expected_user_stats,
    rollup_daily,
    rollup_user_stats,
    table_snapshot,
    utc_midnight,
)


def watermark():
    db.session.expire_all()
    return db.session.get(RollupState, "bookings").watermark


def test_rollup_equals_the_raw_rows(app_ctx):
    build_history()

    report = rollup.run_rollup()

    assert report.full and not report.skipped
    expected = expected_daily(all_bookings())
    assert rollup_daily() == expected
    assert rollup_user_stats() == expected_user_stats(all_bookings())
    # The dataset really is varied: several months, cancellations, timed and untimed promotions.
    assert len({day.replace(day=1) for _event, day, _currency in expected}) >= 4
    assert {currency for _event, _day, currency in expected} == {"USD", "EUR"}
    totals = {name: sum(group[name] for group in expected.values())
              for name in ("cancellations", "promotions", "promotion_waits")}
    assert totals["cancellations"] > 5 and totals["promotions"] > totals["promotion_waits"] > 0
    # ...and a direct SQL count agrees with the table.
    raw = db.session.execute(text("""
        SELECT count(*), count(*) FILTER (WHERE status = 'cancelled'), sum(total_amount) FILTER (WHERE status = 'confirmed'),
               count(*) FILTER (WHERE source = 'waitlist') FROM bookings""")).one()
    rolled = db.session.execute(text("""
        SELECT sum(bookings), sum(cancellations), sum(revenue), sum(promotions) FROM analytics_event_daily""")).one()
    assert tuple(rolled) == tuple(raw)


def test_utc_day_edges_land_in_their_own_days(app_ctx):
    build_history()
    rollup.run_rollup()

    rows = db.session.execute(text("""
        SELECT day, sum(bookings) FROM analytics_event_daily
        WHERE day IN (:before, :after) GROUP BY day"""),
                              {"before": (utc_midnight(4)).date(), "after": utc_midnight(3).date()}).all()
    raw = db.session.execute(text("""
        SELECT (created_at AT TIME ZONE 'UTC')::date, count(*) FROM bookings
        WHERE created_at >= :start AND created_at < :end GROUP BY 1"""),
                             {"start": utc_midnight(4), "end": utc_midnight(2)}).all()
    assert sorted(rows) == sorted(raw) and len(rows) == 2


def test_rerunning_changes_nothing(app_ctx):
    build_history()
    rollup.run_rollup()
    before = table_snapshot()

    again = rollup.run_rollup()
    full_again = rollup.run_rollup(full=True)

    assert table_snapshot() == before  # computed_at included: not one row was rewritten
    assert (again.event_day_rows, again.user_rows) == (0, 0)
    assert (full_again.event_day_rows, full_again.user_rows, full_again.removed_rows) == (0, 0, 0)


def test_cancelling_an_old_booking_after_a_rollup_recomputes_its_day(app_ctx):
    events, users = build_history()
    backdate_changes()
    rollup.run_rollup()
    old = add_booking(event=events[0], user=users[0], created_at=utc_midnight(75) + timedelta(hours=9), quantity=4,
                      updated_at=utcnow() - timedelta(hours=2))
    # That booking was back-dated entirely, so only a full run sees it (what seed-demo does).
    assert rollup.run_rollup().event_day_rows == 0
    rollup.run_rollup(full=True)
    day = (events[0].id, utc_midnight(75).date(), "USD")
    before = rollup_daily()[day]
    assert before == expected_daily(all_bookings())[day]

    booking = db.session.get(Booking, old.id)
    booking.status, booking.cancelled_at = "cancelled", utcnow()  # updated_at moves by itself (onupdate)
    booking.cancelled_quantity = booking.quantity
    db.session.commit()
    assert rollup_daily()[day] == before  # stale until the next run...

    report = rollup.run_rollup()

    after = rollup_daily()[day]
    assert after == expected_daily(all_bookings())[day]
    assert after["revenue"] == before["revenue"] - old.total_amount
    assert after["cancellations"] == before["cancellations"] + 1
    assert report.event_day_rows == 1 and report.user_rows == 1  # ...and only what changed was rewritten
    assert rollup_daily() == expected_daily(all_bookings())


def test_new_bookings_are_picked_up_incrementally(app_ctx):
    events, users = build_history()
    backdate_changes()
    rollup.run_rollup()
    first = watermark()
    add_booking(event=events[2], user=users[5], created_at=utcnow() - timedelta(minutes=1), quantity=2,
                updated_at=utcnow())
    add_booking(event=events[1], user=users[6], created_at=utc_midnight(40), quantity=1, updated_at=utcnow())

    report = rollup.run_rollup()

    assert not report.full and report.event_day_rows == 2
    assert watermark() > first
    assert rollup_daily() == expected_daily(all_bookings())
    assert rollup_user_stats() == expected_user_stats(all_bookings())


def test_a_transaction_open_during_the_rollup_is_not_lost(app, app_ctx):
    """The watermark is pulled back to the start of the oldest open transaction: a booking
    committed after the rollup read its snapshot is still found by the next run."""
    events, users = build_history()
    rollup.run_rollup()
    app.config["ANALYTICS_WATERMARK_MARGIN_SECONDS"] = 0
    try:
        with db.engine.connect() as other:
            other.execute(text("""
                INSERT INTO bookings (reference, user_id, event_id, quantity, unit_price, total_amount, currency)
                VALUES ('EVT-ANOPEN1', :user, :event, 3, 25.50, 76.50, 'USD')"""),
                          {"user": users[0].id, "event": events[0].id})
            time.sleep(1.0)  # created_at is this transaction's start, a second before the rollup
            during = rollup.run_rollup()
            other.commit()
        assert watermark() < utcnow() - timedelta(seconds=0.9)
        rollup.run_rollup()
    finally:
        app.config.pop("ANALYTICS_WATERMARK_MARGIN_SECONDS")

    assert not during.skipped
    assert rollup_daily() == expected_daily(all_bookings())


def test_a_held_lock_makes_an_overlapping_run_skip(app_ctx):
    build_history()
    with db.engine.connect() as holder:
        assert holder.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": rollup.ROLLUP_LOCK}).scalar()
        try:
            skipped = rollup.run_rollup()
            task_result = tasks.rollup()  # the Celery task body, called directly
        finally:
            holder.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": rollup.ROLLUP_LOCK})
            holder.commit()

    assert skipped.skipped and task_result["skipped"] is True
    assert rollup_daily() == {} and db.session.get(RollupState, "bookings") is None  # nothing was written

    result = tasks.rollup()

    assert result["skipped"] is False and result["full"] is True
    assert rollup_daily() == expected_daily(all_bookings())


def test_a_run_in_progress_makes_a_second_run_skip(app, app_ctx):
    """Run A is parked mid-run (its state row is locked by another session); run B,
    started meanwhile, must skip instead of working alongside A."""
    build_history()
    rollup.run_rollup()
    results = {}

    def run_a():
        with app.app_context():
            results["a"] = rollup.run_rollup()
            db.session.remove()

    with db.engine.connect() as blocker:
        blocker.execute(text("SELECT 1 FROM analytics_rollup_state WHERE name = 'bookings' FOR UPDATE"))
        thread = threading.Thread(target=run_a)
        thread.start()
        deadline = time.monotonic() + 4  # lock_timeout is 5 s
        while not _waiting_on_a_lock() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _waiting_on_a_lock(), "run A never reached its state row"
        results["b"] = rollup.run_rollup()
        blocker.rollback()
    thread.join(timeout=30)

    assert results["b"].skipped is True
    assert results["a"].skipped is False
    assert rollup_daily() == expected_daily(all_bookings())


def _waiting_on_a_lock():
    with db.engine.connect() as probe:
        return probe.execute(text("""
            SELECT count(*) FROM pg_stat_activity
            WHERE datname = current_database() AND wait_event_type = 'Lock'
              AND query LIKE '%analytics_rollup_state%FOR UPDATE%'""")).scalar() > 0


@pytest.mark.parametrize("full", [False, True])
def test_task_reports_its_work(app_ctx, full):
    build_history()

    result = tasks.rollup(full=full)

    assert result["skipped"] is False and result["full"] is True  # the first run is always full
    assert result["event_day_rows"] == len(expected_daily(all_bookings()))
    assert result["watermark"] is not None
