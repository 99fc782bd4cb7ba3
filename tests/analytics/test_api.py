"""/api/analytics over HTTP: the contract, the numbers against raw rows, and rollup + live delta."""
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text

from evently.analytics import rollup
from evently.analytics.buckets import bucket_start
from evently.bookings.models import Booking
from evently.common.models import utcnow
from evently.extensions import db
from tests import factories

from .helpers import (
    add_waiting,
    all_bookings,
    assert_error,
    backdate_changes,
    build_history,
    day_of,
    expected_daily,
    money,
    rollup_daily,
    utc_midnight,
)

ENDPOINTS = ["/api/analytics/overview", "/api/analytics/revenue", "/api/analytics/events", "/api/analytics/users"]


def get(client, headers, url, **params):
    return client.get(url, query_string=params, headers=headers)


def ok(response):
    assert response.status_code == 200, response.get_json()
    payload = response.get_json()
    assert payload["message"]
    return payload["data"]


def today():
    return utcnow().date()


# --- access -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("url", ENDPOINTS)
def test_anonymous_is_401(client, app_ctx, url):
    assert_error(client.get(url), 401, "UNAUTHORIZED")


@pytest.mark.parametrize("url", ENDPOINTS)
def test_non_admin_is_403(client, user_headers, url):
    assert_error(client.get(url, headers=user_headers), 403, "FORBIDDEN")


@pytest.mark.parametrize("url", ENDPOINTS)
def test_non_admin_is_403_before_parameters_are_judged(client, user_headers, url):
    assert_error(client.get(url + "?bogus=1", headers=user_headers), 403, "FORBIDDEN")


# --- parameters -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("url, params, field", [
    ("/api/analytics/overview", {"x": "1"}, "x"),
    ("/api/analytics/revenue", {"granularity": "year"}, "granularity"),
    ("/api/analytics/revenue", {"granularity": "day'; DROP TABLE bookings; --"}, "granularity"),
    ("/api/analytics/revenue", {"from": "2026-13-01"}, "from"),
    ("/api/analytics/revenue", {"from": "yesterday"}, "from"),
    ("/api/analytics/revenue", {"from": "2026-03-02", "to": "2026-03-01"}, "from"),
    ("/api/analytics/revenue", {"from": "2024-01-01", "to": "2026-01-01", "granularity": "day"}, "to"),
    ("/api/analytics/revenue", {"from": "2000-01-01", "to": "2026-01-01", "granularity": "week"}, "to"),
    ("/api/analytics/revenue", {"from": "1990-01-01", "to": "2026-01-01", "granularity": "month"}, "to"),
    ("/api/analytics/revenue", {"from": "2020-01-01"}, "to"),  # `to` defaults to today: > 366 days
    # Dates near datetime.date's limits: the default `from` or the next bucket would overflow (once a 500).
    ("/api/analytics/revenue", {"to": "0001-01-02", "granularity": "day"}, "to"),
    ("/api/analytics/revenue", {"from": "9999-12-31", "granularity": "month"}, "from"),
    ("/api/analytics/revenue", {"from": "1969-12-31", "to": "1970-01-01"}, "from"),
    ("/api/analytics/users", {"to": "9999-12-31", "granularity": "week"}, "to"),
    ("/api/analytics/revenue", {"eventId": "abc"}, "eventId"),
    ("/api/analytics/revenue", {"eventId": "0"}, "eventId"),
    ("/api/analytics/revenue", {"eventId": str(2**63)}, "eventId"),
    ("/api/analytics/revenue", {"event_id": "1"}, "event_id"),
    ("/api/analytics/events", {"sort": "title"}, "sort"),
    ("/api/analytics/events", {"sort": "revenue DESC"}, "sort"),
    ("/api/analytics/events", {"limit": "0"}, "limit"),
    ("/api/analytics/events", {"limit": "101"}, "limit"),
    ("/api/analytics/events", {"limit": "ten"}, "limit"),
    ("/api/analytics/events", {"page": "2"}, "page"),
    ("/api/analytics/users", {"granularity": "hour"}, "granularity"),
    ("/api/analytics/users", {"from": "2026-05-01", "to": "2026-04-01"}, "from"),
])
def test_bad_parameters_are_400_with_details(client, admin_headers, url, params, field):
    details = assert_error(get(client, admin_headers, url, **params), 400, "VALIDATION_ERROR")
    assert field in details, details
    assert db.session.execute(text("SELECT count(*) FROM bookings")).scalar() == 0  # the table is still there


def test_limits_of_each_granularity_are_accepted(client, admin_headers):
    for granularity, start, end in (("day", "2025-01-01", "2026-01-01"), ("week", "2021-01-04", "2025-12-28"),
                                    ("month", "2016-01-01", "2025-12-31")):
        data = ok(get(client, admin_headers, "/api/analytics/revenue", granularity=granularity, **{"from": start},
                      to=end))
        assert len(data["series"]) in (366, 260, 120)


def test_unknown_event_is_404(client, admin_headers):
    assert_error(get(client, admin_headers, "/api/analytics/revenue", eventId="999999"), 404, "NOT_FOUND")


# --- numbers against the raw rows ------------------------------------------------------------------------------

def raw_overview():
    return db.session.execute(text("""
        SELECT count(*) AS bookings,
               count(*) FILTER (WHERE status = 'confirmed') AS confirmed,
               coalesce(sum(quantity) FILTER (WHERE status = 'confirmed'), 0) AS tickets,
               count(*) FILTER (WHERE status = 'cancelled') AS cancellations,
               count(*) FILTER (WHERE source = 'waitlist') AS promotions,
               avg(extract(epoch FROM created_at - seats_freed_at)) FILTER (WHERE source = 'waitlist') AS avg_wait,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM created_at - seats_freed_at))
                   FILTER (WHERE source = 'waitlist' AND seats_freed_at IS NOT NULL) AS median_wait
        FROM bookings""")).mappings().one()


def raw_revenue_by_currency():
    rows = db.session.execute(text("""
        SELECT currency, sum(total_amount) FROM bookings WHERE status = 'confirmed' GROUP BY currency
        ORDER BY currency""")).all()
    return [{"currency": currency, "amount": money(amount)} for currency, amount in rows]


def assert_overview_matches_raw(data):
    raw = raw_overview()
    assert data["bookings"]["total"] == raw["bookings"]
    assert data["bookings"]["confirmed"] == raw["confirmed"]
    assert data["bookings"]["ticketsSold"] == raw["tickets"]
    assert data["bookings"]["cancellations"] == raw["cancellations"]
    assert data["bookings"]["cancellationRate"] == round(raw["cancellations"] / raw["bookings"], 4)
    assert [{"currency": r["currency"], "amount": r["amount"]} for r in data["revenue"]] == raw_revenue_by_currency()
    assert data["promotions"]["total"] == raw["promotions"]
    assert data["promotions"]["avgWaitSeconds"] == pytest.approx(float(raw["avg_wait"]), abs=0.05)
    assert data["promotions"]["medianWaitSeconds"] == pytest.approx(float(raw["median_wait"]), abs=0.05)


def test_overview_matches_raw_rows_before_and_after_rollups(client, admin_headers):
    build_history()

    live_only = ok(get(client, admin_headers, "/api/analytics/overview"))  # nothing rolled up yet
    assert_overview_matches_raw(live_only)
    rollup.run_rollup()
    assert ok(get(client, admin_headers, "/api/analytics/overview")) == live_only


def test_overview_shape_and_the_rest_of_its_numbers(client, admin_headers):
    events, users = build_history()
    factories.make_event(title="Draft", status="draft")
    rollup.run_rollup()

    data = ok(get(client, admin_headers, "/api/analytics/overview"))

    assert set(data) == {"users", "events", "bookings", "revenue", "waitlist", "promotions"}
    assert data["users"] == {"total": 13, "admins": 1, "newLast30Days": 13}
    capacity, booked = 400 + 150 + 300, sum(event.booked_seats for event in events)
    assert data["events"] == {"total": 4, "published": 3, "draft": 1, "cancelled": 0, "upcoming": 3,
                              "soldOut": 0, "capacity": capacity, "bookedSeats": booked,
                              "utilization": round(booked / capacity, 4)}
    assert data["waitlist"] == {"entries": 3, "seats": 6, "activeEntries": 3, "unmetDemand": 6,
                                "eventsWithWaitlist": 2}
    assert all(isinstance(r["amount"], float) and r["amount"] == round(r["amount"], 2) for r in data["revenue"])


def test_unmet_demand_counts_only_events_that_can_still_happen(client, admin_headers):
    past = factories.make_event(starts_in=timedelta(days=-2))
    live = factories.make_event()
    someone, other = factories.make_user(), factories.make_user()
    add_waiting(event=past, user=someone, quantity=5)
    add_waiting(event=live, user=other, quantity=2)

    waitlist = ok(get(client, admin_headers, "/api/analytics/overview"))["waitlist"]

    assert (waitlist["entries"], waitlist["seats"], waitlist["unmetDemand"], waitlist["activeEntries"]) == (2, 7, 2, 1)


def expected_series(bookings, granularity, start, end, event_id=None):
    points = defaultdict(lambda: [Decimal("0.00"), 0, 0])
    for booking in bookings:
        day = day_of(booking.created_at)
        if booking.status != "confirmed" or not start <= day <= end or event_id not in (None, booking.event_id):
            continue
        point = points[(bucket_start(day, granularity).isoformat(), booking.currency)]
        point[0] += booking.total_amount
        point[1] += booking.quantity
        point[2] += 1
    return points


@pytest.mark.parametrize("granularity", ["day", "week", "month"])
def test_revenue_series_matches_raw_rows(client, admin_headers, granularity):
    events, _users = build_history()
    rollup.run_rollup()
    start, end = utc_midnight(119).date(), utc_midnight(1).date()

    data = ok(get(client, admin_headers, "/api/analytics/revenue", granularity=granularity,
                  **{"from": start.isoformat()}, to=end.isoformat()))

    assert (data["from"], data["to"], data["granularity"], data["eventId"]) == (
        start.isoformat(), end.isoformat(), granularity, None)
    expected = expected_series(all_bookings(), granularity, start, end)
    got = {(p["bucketStart"], p["currency"]): p for p in data["series"]}
    # Zero-filled: every bucket once per currency, oldest first.
    starts = sorted({p["bucketStart"] for p in data["series"]})
    assert [p["bucketStart"] for p in data["series"]] == [s for s in starts for _ in ("EUR", "USD")]
    assert starts[0] == bucket_start(start, granularity).isoformat()
    for key, point in got.items():
        revenue, tickets, bookings = expected.get(key, (Decimal(0), 0, 0))
        assert (point["revenue"], point["tickets"], point["bookings"]) == (money(revenue), tickets, bookings), key
    assert {k for k, p in got.items() if p["bookings"]} == set(expected)
    totals = {t["currency"]: t for t in data["totals"]}
    assert totals["EUR"]["revenue"] == money(sum((v[0] for k, v in expected.items() if k[1] == "EUR"), Decimal(0)))


def test_revenue_for_one_event_and_default_range(client, admin_headers):
    events, _users = build_history()
    rollup.run_rollup()
    jazz = events[1]

    data = ok(get(client, admin_headers, "/api/analytics/revenue", eventId=str(jazz.id)))

    end, start = today(), today() - timedelta(days=29)
    assert (data["from"], data["to"], data["eventId"]) == (start.isoformat(), end.isoformat(), jazz.id)
    assert len(data["series"]) == 30 and {p["currency"] for p in data["series"]} == {"USD"}
    expected = expected_series(all_bookings(), "day", start, end, event_id=jazz.id)
    assert data["totals"] == [{"currency": "USD", "revenue": money(sum((v[0] for v in expected.values()), Decimal(0))),
                               "tickets": sum(v[1] for v in expected.values()),
                               "bookings": sum(v[2] for v in expected.values())}]


def test_revenue_for_an_event_without_bookings_is_zero_filled_in_its_currency(client, admin_headers):
    event = factories.make_event(currency="EUR")

    data = ok(get(client, admin_headers, "/api/analytics/revenue", eventId=str(event.id), granularity="week"))

    assert len(data["series"]) == 12 and all(p["revenue"] == 0 and p["currency"] == "EUR" for p in data["series"])
    assert date.fromisoformat(data["series"][0]["bucketStart"]).weekday() == 0  # ISO weeks start on Monday


def test_events_ranking_and_numbers(client, admin_headers):
    events, _users = build_history()
    rollup.run_rollup()
    expected = {}
    for booking in all_bookings():
        row = expected.setdefault(booking.event_id, {"sold": 0, "revenue": Decimal(0), "bookings": 0, "cancelled": 0,
                                                     "promotions": 0})
        row["bookings"] += 1
        row["cancelled"] += booking.status == "cancelled"
        row["promotions"] += booking.source == "waitlist"
        if booking.status == "confirmed":
            row["sold"] += booking.quantity
            row["revenue"] += booking.total_amount

    by_popularity = ok(get(client, admin_headers, "/api/analytics/events", sort="popularity", limit="100"))
    by_revenue = ok(get(client, admin_headers, "/api/analytics/events", sort="revenue", limit="2"))
    by_utilization = ok(get(client, admin_headers, "/api/analytics/events", sort="utilization"))

    assert [e["ticketsSold"] for e in by_popularity] == sorted((r["sold"] for r in expected.values()), reverse=True)
    assert [e["revenue"] for e in by_revenue] == sorted((money(r["revenue"]) for r in expected.values()),
                                                        reverse=True)[:2]
    assert [e["utilization"] for e in by_utilization] == sorted(
        (round(e.booked_seats / e.capacity, 4) for e in events), reverse=True)
    waiting = {events[1].id: (2, 4), events[2].id: (1, 2), events[0].id: (0, 0)}
    for row in by_popularity:
        want = expected[row["eventId"]]
        assert (row["ticketsSold"], row["bookings"], row["cancellations"], row["promotions"]) == (
            want["sold"], want["bookings"], want["cancelled"], want["promotions"])
        assert row["revenue"] == money(want["revenue"])
        assert row["ticketsSold"] == row["bookedSeats"]
        assert (row["waitlistEntries"], row["waitlistSeats"]) == waiting[row["eventId"]]
        assert row["cancellationRate"] == round(want["cancelled"] / want["bookings"], 4)
    assert {row["currency"] for row in by_popularity} == {"USD", "EUR"}


def test_users_engagement_matches_raw_rows(client, admin_headers):
    _events, users = build_history()
    # Registrations spread over three months.
    for index, user in enumerate(users):
        db.session.execute(text("UPDATE users SET created_at = :at WHERE id = :id"),
                           {"at": utc_midnight(10 + 30 * (index % 3)), "id": user.id})
    db.session.commit()
    rollup.run_rollup()

    data = ok(get(client, admin_headers, "/api/analytics/users", granularity="month"))

    per_user = defaultdict(lambda: {"confirmed": 0, "tickets": 0, "last": None})
    for booking in all_bookings():
        if booking.status == "confirmed":
            row = per_user[booking.user_id]
            row["confirmed"] += 1
            row["tickets"] += booking.quantity
            row["last"] = max(filter(None, (row["last"], booking.created_at)))
    assert data["totalUsers"] == 13
    assert data["bookers"] == len(per_user)
    assert data["repeatBookers"] == sum(1 for r in per_user.values() if r["confirmed"] >= 2)
    assert data["activeBookers"] == sum(1 for r in per_user.values() if r["last"] >= utcnow() - timedelta(days=30))
    tickets = sorted(r["tickets"] for r in per_user.values())
    assert data["ticketsPerBooker"]["total"] == sum(tickets)
    assert data["ticketsPerBooker"]["max"] == tickets[-1]
    assert data["ticketsPerBooker"]["avg"] == round(sum(tickets) / len(tickets), 2)
    assert sum(band["users"] for band in data["ticketsPerBooker"]["distribution"]) == len(per_user)
    assert len(data["registrations"]) == 12
    assert sum(p["registrations"] for p in data["registrations"]) == 13  # 12 users + the admin, all within a year
    registered = db.session.execute(text("""
        SELECT date_trunc('month', created_at AT TIME ZONE 'UTC')::date, count(*) FROM users GROUP BY 1""")).all()
    assert {p["bucketStart"]: p["registrations"] for p in data["registrations"] if p["registrations"]} == {
        month.isoformat(): count for month, count in registered}


# --- freshness: rollups plus the live delta -------------------------------------------------------------------

def test_endpoints_read_the_rollup_rows_for_unchanged_days(client, admin_headers):
    """Proof the endpoints do not rescan history: a (deliberately wrong) rollup row is
    served as is until a booking of that day changes, then the day is recomputed live."""
    events, users = build_history()
    backdate_changes()
    rollup.run_rollup()
    truth = raw_revenue_by_currency()
    day = sorted(key for key in rollup_daily() if key[2] == "EUR")[0]
    db.session.execute(text("""
        UPDATE analytics_event_daily SET revenue = revenue + 1000 WHERE event_id = :e AND day = :d AND currency = 'EUR'
        """), {"e": day[0], "d": day[1]})
    db.session.commit()

    tampered = ok(get(client, admin_headers, "/api/analytics/overview"))["revenue"]
    assert {r["currency"]: r["amount"] for r in tampered}["EUR"] == money(
        Decimal(str({r["currency"]: r["amount"] for r in truth}["EUR"])) + 1000)

    booking = db.session.scalars(db.select(Booking).where(Booking.event_id == day[0])).all()
    touched = next(b for b in booking if day_of(b.created_at) == day[1])
    db.session.execute(text("UPDATE bookings SET updated_at = now() WHERE id = :id"), {"id": touched.id})
    db.session.commit()  # a change (of nothing that counts): the day is dirty now

    assert ok(get(client, admin_headers, "/api/analytics/overview"))["revenue"] == [
        {**r, "amount": t["amount"]} for r, t in zip(tampered, truth)]


def test_bookings_and_cancellations_through_the_api_show_up_before_the_next_rollup(client, admin_headers):
    """The real write path (POST/DELETE /api/bookings) after a rollup: numbers are fresh at once,
    and the next rollup writes exactly those numbers."""
    events, users = build_history()
    backdate_changes()
    rollup.run_rollup()
    fan = factories.make_user()
    fan_headers = factories.auth_headers(fan)
    rock = events[0]  # no waitlist: a direct sale goes through
    before = ok(get(client, admin_headers, "/api/analytics/overview"))

    made = client.post("/api/bookings", json={"eventId": rock.id, "quantity": 2}, headers=fan_headers)
    assert made.status_code == 201 and made.get_json()["data"]["booking"]["quantity"] == 2, made.get_json()
    old = db.session.scalars(db.select(Booking).where(Booking.event_id == events[0].id,
                                                      Booking.status == "confirmed",
                                                      Booking.created_at < utc_midnight(30))).first()
    owner_headers = factories.auth_headers(db.session.get(type(fan), old.user_id))
    cancelled = client.delete(f"/api/bookings/{old.id}", headers=owner_headers)
    assert cancelled.status_code == 200, cancelled.get_json()

    after = ok(get(client, admin_headers, "/api/analytics/overview"))
    assert_overview_matches_raw(after)
    assert after["bookings"]["total"] == before["bookings"]["total"] + 1
    assert after["bookings"]["cancellations"] == before["bookings"]["cancellations"] + 1
    assert after["bookings"]["ticketsSold"] == before["bookings"]["ticketsSold"] + 2 - old.quantity
    old_day = ok(get(client, admin_headers, "/api/analytics/revenue", eventId=str(events[0].id),
                     **{"from": day_of(old.created_at).isoformat()}, to=day_of(old.created_at).isoformat()))
    expected_day = expected_series(all_bookings(), "day", day_of(old.created_at), day_of(old.created_at),
                                   event_id=events[0].id)
    assert old_day["totals"][0]["revenue"] == money(sum((v[0] for v in expected_day.values()), Decimal(0)))

    report = rollup.run_rollup()
    assert report.event_day_rows == 2  # today's row and the old day's row, both Rock
    assert rollup_daily() == expected_daily(all_bookings())
    assert ok(get(client, admin_headers, "/api/analytics/overview")) == after


def test_a_real_promotion_is_counted_with_its_wait(client, admin_headers):
    """Sell out through the API, queue, cancel, let the waitlist service promote: the
    promotion and its freed-seat-to-booking time reach the overview."""
    from evently.seats import promotion

    event = factories.make_event(capacity=2)
    buyer, waiter = factories.make_user(), factories.make_user()
    sold = client.post("/api/bookings", json={"eventId": event.id, "quantity": 2},
                       headers=factories.auth_headers(buyer))
    assert sold.status_code == 201, sold.get_json()
    queued = client.post("/api/waitlist", json={"eventId": event.id, "quantity": 1},
                         headers=factories.auth_headers(waiter))
    assert queued.status_code == 201, queued.get_json()
    rollup.run_rollup()
    freed_at = utcnow() - timedelta(seconds=30)
    assert client.delete(f"/api/bookings/{sold.get_json()['data']['booking']['id']}",
                         headers=factories.auth_headers(buyer)).status_code == 200
    promotion.promote_waitlist(event_id=event.id, seats_freed_at=freed_at)

    data = ok(get(client, admin_headers, "/api/analytics/overview"))

    promoted = db.session.scalars(db.select(Booking).where(Booking.source == "waitlist")).all()
    assert len(promoted) == 1 and promoted[0].user_id == waiter.id
    assert data["promotions"]["total"] == 1 and data["promotions"]["tickets"] == 1
    wait = (promoted[0].created_at - promoted[0].seats_freed_at).total_seconds()
    assert wait >= 30 and data["promotions"]["medianWaitSeconds"] == pytest.approx(wait, abs=0.05)
    assert_overview_matches_raw(data)
    rollup.run_rollup()
    assert rollup_daily() == expected_daily(all_bookings())
