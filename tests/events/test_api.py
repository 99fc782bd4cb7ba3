"""/api/events over HTTP against real PostgreSQL and Redis: the contract and the rows behind it."""
from datetime import timedelta
from decimal import Decimal

import pytest

from sqlalchemy import select

from evently.events.models import Event
from evently.extensions import db
from evently.notifications.models import BackgroundJob, Notification
from evently.seats import cancellation, gate
from evently.waitlist.models import WaitlistEntry
from tests.factories import auth_headers, make_event, make_user

from .helpers import all_events, count, event_body, fresh, iso, make_booking, make_waitlist_entry

EVENT_KEYS = {"id", "title", "description", "venue", "startsAt", "endsAt", "capacity", "bookedSeats",
              "availableSeats", "waitlistCount", "price", "currency", "status", "maxPerBooking", "maxPerUser",
              "waitlistPaused", "timezone", "createdAt", "updatedAt"}


def titles(response):
    return [event["title"] for event in response.get_json()["data"]]


def assert_error(response, status, code):
    assert response.status_code == status, response.get_json()
    payload = response.get_json()
    assert payload["error"]["code"] == code, payload
    assert payload["message"]
    return payload["error"]["details"]


# --- GET /api/events ---------------------------------------------------------------------------------------------

def test_list_defaults_to_published_upcoming(client, app_ctx):
    make_event(title="Upcoming")
    make_event(title="Draft", status="draft")
    make_event(title="Cancelled", status="cancelled")
    make_event(title="Past", starts_in=timedelta(days=-1))

    response = client.get("/api/events")

    assert response.status_code == 200
    payload = response.get_json()
    assert titles(response) == ["Upcoming"]
    assert payload["message"]
    assert payload["meta"] == {"page": 1, "perPage": 20, "total": 1, "pages": 1}


def test_list_event_shape(client, app_ctx):
    event = make_event(title="Shape", capacity=50, booked_seats=8, price="19.90", currency="EUR", max_per_booking=4)

    data = client.get("/api/events").get_json()["data"][0]

    assert set(data) == EVENT_KEYS
    assert data["id"] == event.id
    assert data["capacity"] == 50 and data["bookedSeats"] == 8 and data["availableSeats"] == 42
    assert data["waitlistCount"] == 0
    assert data["price"] == 19.9 and isinstance(data["price"], float)
    assert data["currency"] == "EUR" and data["status"] == "published" and data["maxPerBooking"] == 4
    assert data["startsAt"] == iso(event.starts_at) and data["startsAt"].endswith("Z")
    assert data["endsAt"].endswith("Z") and data["createdAt"].endswith("Z") and data["updatedAt"].endswith("Z")


def test_list_available_seats_are_live_from_the_gate(client, app_ctx):
    event = make_event(capacity=10)
    decision = gate.take(event, hold_id="hold-in-flight", quantity=3)
    assert decision.taken == 3

    data = client.get("/api/events").get_json()["data"][0]

    assert data["availableSeats"] == 7
    assert fresh(Event, event.id).booked_seats == 0  # only Redis knows about the hold


def test_waitlist_count_is_live_from_the_gate(client, app_ctx):
    """With a gate, the size of the queue is the gate's count (a join in flight included),
    not a count of the queue in PostgreSQL on every page."""
    event = make_event(capacity=2)
    assert gate.take(event, hold_id="buyer", quantity=2).taken == 2
    assert gate.take(event, hold_id="join-in-flight", quantity=1).waitlisted

    listed = client.get("/api/events").get_json()["data"][0]
    detail = client.get(f"/api/events/{event.id}").get_json()["data"]

    assert (listed["waitlistCount"], listed["availableSeats"]) == (1, 0)
    assert (detail["waitlistCount"], detail["availableSeats"]) == (1, 0)
    assert count(WaitlistEntry) == 0  # only Redis knows


def test_list_waitlist_count_counts_waiting_entries_per_event(client, app_ctx):
    full, other = make_event(title="A Full", capacity=2, booked_seats=2), make_event(title="B Other")
    for status in ("waiting", "waiting", "served", "left"):
        make_waitlist_entry(event=full, user=make_user(), status=status)
    make_waitlist_entry(event=other, user=make_user())

    data = {event["title"]: event for event in client.get("/api/events").get_json()["data"]}

    assert data["A Full"]["waitlistCount"] == 2
    assert data["B Other"]["waitlistCount"] == 1
    assert data["A Full"]["availableSeats"] == 0


def test_list_q_matches_title_or_description_case_insensitively(client, app_ctx):
    make_event(title="Rock Concert")
    described = make_event(title="Evening")
    described.description = "An evening of ROCK and roll"
    db.session.commit()
    make_event(title="Poetry")

    assert sorted(titles(client.get("/api/events?q=rOcK"))) == ["Evening", "Rock Concert"]


def test_list_q_treats_like_wildcards_literally(client, app_ctx):
    make_event(title="100% fun")
    make_event(title="1000 fun")
    make_event(title="snake_case meetup")
    make_event(title="snakeXcase meetup")

    assert titles(client.get("/api/events?q=0%25")) == ["100% fun"]
    assert titles(client.get("/api/events?q=e_c")) == ["snake_case meetup"]
    assert titles(client.get("/api/events?q=%5C")) == []


def test_list_from_to_window(client, app_ctx):
    make_event(title="Day 1", starts_in=timedelta(days=1))
    make_event(title="Day 5", starts_in=timedelta(days=5))
    make_event(title="Day 10", starts_in=timedelta(days=10))
    now = fresh(Event, 1).starts_at - timedelta(days=1)

    response = client.get("/api/events", query_string={"from": iso(now + timedelta(days=2)),
                                                        "to": iso(now + timedelta(days=8))})

    assert titles(response) == ["Day 5"]
    assert titles(client.get("/api/events", query_string={"to": iso(now + timedelta(days=6))})) == ["Day 1", "Day 5"]


def test_list_from_in_the_past_includes_past_events(client, app_ctx):
    make_event(title="Yesterday", starts_in=timedelta(days=-1))
    make_event(title="Tomorrow", starts_in=timedelta(days=1))
    past = fresh(Event, 1).starts_at - timedelta(hours=1)

    assert titles(client.get("/api/events", query_string={"from": iso(past)})) == ["Yesterday", "Tomorrow"]


def test_list_venue_is_case_insensitive_exact(client, app_ctx):
    make_event(title="Hall", venue="Main Hall")
    make_event(title="Annex", venue="Main Hall Annex")

    assert titles(client.get("/api/events?venue=MAIN%20hall")) == ["Hall"]


@pytest.mark.parametrize("sort, expected", [
    (None, ["Soon", "Middle", "Late"]),
    ("startsAt", ["Soon", "Middle", "Late"]),
    ("-startsAt", ["Late", "Middle", "Soon"]),
    ("popularity", ["Middle", "Late", "Soon"]),
    ("price", ["Late", "Soon", "Middle"]),
    ("-price", ["Middle", "Soon", "Late"]),
])
def test_list_sort(client, app_ctx, sort, expected):
    make_event(title="Soon", starts_in=timedelta(days=1), booked_seats=1, price="20.00")
    make_event(title="Middle", starts_in=timedelta(days=2), booked_seats=50, price="99.99")
    make_event(title="Late", starts_in=timedelta(days=3), booked_seats=10, price="0.00")

    response = client.get("/api/events", query_string={"sort": sort} if sort else {})

    assert titles(response) == expected


def test_list_pagination_meta(client, app_ctx):
    for day in range(1, 6):
        make_event(title=f"E{day}", starts_in=timedelta(days=day))

    last = client.get("/api/events?page=3&perPage=2").get_json()
    beyond = client.get("/api/events?page=4&perPage=2").get_json()

    assert [event["title"] for event in last["data"]] == ["E5"]
    assert last["meta"] == {"page": 3, "perPage": 2, "total": 5, "pages": 3}
    assert beyond["data"] == [] and beyond["meta"]["total"] == 5
    assert titles(client.get("/api/events?page=1&perPage=2")) == ["E1", "E2"]


def test_list_empty(client, app_ctx):
    payload = client.get("/api/events").get_json()

    assert payload["data"] == []
    assert payload["meta"] == {"page": 1, "perPage": 20, "total": 0, "pages": 0}


@pytest.mark.parametrize("query, field", [
    ("perPage=101", "perPage"),
    ("perPage=0", "perPage"),
    ("page=0", "page"),
    ("page=abc", "page"),
    ("sort=title", "sort"),
    ("q=" + "x" * 101, "q"),
    ("from=yesterday", "from"),
    ("from=2030-01-01T10:00:00", "from"),  # naive datetimes are ambiguous
    ("from=0001-01-01T00:00:00%2B01:00", "from"),  # before year 1 in UTC
    ("from=2030-01-02T00:00:00Z&to=2030-01-01T00:00:00Z", "from"),
    ("status=archived", "status"),
    ("bogus=1", "bogus"),
    ("per_page=5", "per_page"),
])
def test_list_rejects_bad_query(client, app_ctx, query, field):
    details = assert_error(client.get(f"/api/events?{query}"), 400, "VALIDATION_ERROR")

    assert field in details


def test_list_status_filter_for_admin(client, admin_headers):
    make_event(title="Draft", status="draft")
    make_event(title="Published")
    make_event(title="Cancelled", status="cancelled")

    drafts = client.get("/api/events?status=draft", headers=admin_headers)
    cancelled = client.get("/api/events?status=cancelled", headers=admin_headers)
    everything = client.get("/api/events?status=all", headers=admin_headers)
    default = client.get("/api/events", headers=admin_headers)

    assert titles(drafts) == ["Draft"]
    assert titles(cancelled) == ["Cancelled"] and cancelled.get_json()["data"][0]["availableSeats"] == 0
    assert titles(everything) == ["Draft", "Published", "Cancelled"]
    assert titles(default) == ["Published"]


def test_list_status_filter_is_admin_only(client, user_headers):
    make_event(title="Draft", status="draft")

    assert_error(client.get("/api/events?status=draft", headers=user_headers), 403, "FORBIDDEN")
    assert_error(client.get("/api/events?status=published"), 401, "UNAUTHORIZED")


def test_list_with_a_bad_token_is_401(client, app_ctx):
    assert_error(client.get("/api/events", headers={"Authorization": "Bearer not-a-jwt"}), 401, "UNAUTHORIZED")


def test_an_event_with_a_bad_token_is_401_not_the_public_page(client, app_ctx):
    event = make_event(title="Published")

    assert_error(client.get(f"/api/events/{event.id}", headers={"Authorization": "Bearer not-a-jwt"}), 401,
                 "UNAUTHORIZED")
    assert client.get(f"/api/events/{event.id}").status_code == 200


# --- GET /api/events/<id> ----------------------------------------------------------------------------------------

def test_get_published_event_is_public(client, app_ctx):
    event = make_event(title="Open")
    make_waitlist_entry(event=event, user=make_user())

    response = client.get(f"/api/events/{event.id}")

    assert response.status_code == 200
    data = response.get_json()["data"]
    assert set(data) == EVENT_KEYS
    assert data["id"] == event.id and data["title"] == "Open" and data["waitlistCount"] == 1


@pytest.mark.parametrize("status", ["draft", "cancelled"])
def test_get_unpublished_event_is_404_except_for_admins(client, user, admin, status):
    event = make_event(status=status)

    assert_error(client.get(f"/api/events/{event.id}"), 404, "NOT_FOUND")
    assert_error(client.get(f"/api/events/{event.id}", headers=auth_headers(user)), 404, "NOT_FOUND")
    response = client.get(f"/api/events/{event.id}", headers=auth_headers(admin))
    assert response.status_code == 200
    assert response.get_json()["data"]["status"] == status


def test_get_missing_event_is_404(client, admin_headers):
    assert_error(client.get("/api/events/999999", headers=admin_headers), 404, "NOT_FOUND")
    assert_error(client.get("/api/events/not-a-number"), 404, "NOT_FOUND")


# --- POST /api/events ----------------------------------------------------------------------------------------------

def test_create_event(client, admin, admin_headers):
    body = event_body()

    response = client.post("/api/events", json=body, headers=admin_headers)

    assert response.status_code == 201, response.get_json()
    payload = response.get_json()
    data = payload["data"]
    assert payload["message"] == "Event created."
    assert set(data) == EVENT_KEYS
    assert data["title"] == "Jazz Night" and data["venue"] == "Blue Room"
    assert data["startsAt"] == body["startsAt"] and data["endsAt"] == body["endsAt"]
    assert data["price"] == 25.5 and data["currency"] == "USD" and data["status"] == "draft"
    assert data["capacity"] == 120 and data["bookedSeats"] == 0 and data["availableSeats"] == 120
    assert data["maxPerBooking"] == client.application.config["DEFAULT_MAX_PER_BOOKING"]
    [row] = all_events()
    assert row.id == data["id"]
    assert row.price == Decimal("25.50") and row.capacity == 120 and row.booked_seats == 0
    assert row.status == "draft" and row.currency == "USD" and row.created_by_id == admin.id
    assert iso(row.starts_at) == body["startsAt"] and row.description == "Live jazz."


def test_create_event_with_every_field(client, admin_headers):
    body = event_body(title="  Gala  ", description="", currency="EUR", status="published", maxPerBooking=2,
                      price="1234.50", startsAt="2031-06-01T21:00:00+02:00", endsAt="2031-06-01T23:30:00+02:00",
                      capacity=1_000_000)

    response = client.post("/api/events", json=body, headers=admin_headers)

    assert response.status_code == 201, response.get_json()
    data = response.get_json()["data"]
    assert data["startsAt"] == "2031-06-01T19:00:00Z" and data["endsAt"] == "2031-06-01T21:30:00Z"
    assert data["title"] == "Gala" and data["price"] == 1234.5 and data["maxPerBooking"] == 2
    row = fresh(Event, data["id"])
    assert (row.title, row.currency, row.status, row.max_per_booking) == ("Gala", "EUR", "published", 2)
    assert row.price == Decimal("1234.50") and row.capacity == 1_000_000
    assert client.get(f"/api/events/{row.id}").status_code == 200  # published: public now


def test_create_event_keeps_the_largest_price_exact(client, admin_headers):
    response = client.post("/api/events", json=event_body(price=99999999.99), headers=admin_headers)

    assert response.status_code == 201, response.get_json()
    assert response.get_json()["data"]["price"] == 99999999.99
    assert b'"price":99999999.99' in response.data.replace(b" ", b"")
    assert all_events()[0].price == Decimal("99999999.99")


def test_create_requires_all_mandatory_fields(client, admin_headers):
    details = assert_error(client.post("/api/events", json={}, headers=admin_headers), 400, "VALIDATION_ERROR")

    assert set(details) == {"title", "venue", "startsAt", "endsAt", "capacity", "price"}
    assert count(Event) == 0


@pytest.mark.parametrize("overrides, field", [
    ({"title": ""}, "title"),
    ({"title": "   "}, "title"),
    ({"title": "x" * 201}, "title"),
    ({"venue": ""}, "venue"),
    ({"description": None, "bogus": 1}, "bogus"),
    ({"startsAt": "2030-01-01T10:00:00"}, "startsAt"),
    ({"startsAt": "next week"}, "startsAt"),
    ({"startsAt": "2020-01-01T10:00:00Z", "endsAt": "2020-01-01T12:00:00Z"}, "startsAt"),
    ({"endsAt": "2020-01-01T10:00:00Z"}, "endsAt"),
    ({"capacity": 0}, "capacity"),
    ({"capacity": 1_000_001}, "capacity"),
    ({"capacity": "10"}, "capacity"),
    ({"capacity": 10.5}, "capacity"),
    ({"price": -1}, "price"),
    ({"price": 10.005}, "price"),
    ({"price": 100000000}, "price"),
    ({"price": "NaN"}, "price"),
    ({"price": True}, "price"),
    ({"currency": "usd"}, "currency"),
    ({"currency": "DOLLAR"}, "currency"),
    ({"status": "cancelled"}, "status"),
    ({"maxPerBooking": 0}, "maxPerBooking"),
    ({"maxPerBooking": 101}, "maxPerBooking"),
    ({"title": None, "name": "snake"}, "name"),
])
def test_create_rejects_bad_fields(client, admin_headers, overrides, field):
    response = client.post("/api/events", json=event_body(**overrides), headers=admin_headers)

    details = assert_error(response, 400, "VALIDATION_ERROR")
    assert field in details, details
    assert count(Event) == 0


def test_create_rejects_snake_case_keys(client, admin_headers):
    body = event_body(maxPerBooking=None, max_per_booking=3)

    details = assert_error(client.post("/api/events", json=body, headers=admin_headers), 400, "VALIDATION_ERROR")

    assert "max_per_booking" in details


def test_create_needs_a_token(client, app_ctx):
    assert_error(client.post("/api/events", json=event_body()), 401, "UNAUTHORIZED")
    assert_error(client.post("/api/events", json={"bogus": 1}), 401, "UNAUTHORIZED")
    assert count(Event) == 0


def test_create_is_admin_only_even_with_a_bad_body(client, user_headers):
    assert_error(client.post("/api/events", json=event_body(), headers=user_headers), 403, "FORBIDDEN")
    assert_error(client.post("/api/events", json={"bogus": 1}, headers=user_headers), 403, "FORBIDDEN")
    assert count(Event) == 0


def test_create_rejects_non_json(client, admin_headers):
    response = client.post("/api/events", data="title=x", headers=admin_headers,
                           content_type="application/x-www-form-urlencoded")

    assert response.status_code in (400, 415)
    assert count(Event) == 0


# --- PUT /api/events/<id> ----------------------------------------------------------------------------------------

def test_update_changes_only_the_fields_sent(client, admin_headers):
    event = make_event(title="Old", capacity=50, price="10.00")
    before = fresh(Event, event.id)
    venue, starts_at, created_at, updated_at = before.venue, before.starts_at, before.created_at, before.updated_at

    response = client.put(f"/api/events/{event.id}", json={"title": "New", "price": 12.25, "status": "draft"},
                          headers=admin_headers)

    assert response.status_code == 200, response.get_json()
    data = response.get_json()["data"]
    assert (data["title"], data["price"], data["status"], data["capacity"]) == ("New", 12.25, "draft", 50)
    row = fresh(Event, event.id)
    assert (row.title, row.price, row.status, row.capacity) == ("New", Decimal("12.25"), "draft", 50)
    assert (row.venue, row.starts_at, row.created_at) == (venue, starts_at, created_at)
    assert row.updated_at > updated_at


def test_update_schedule_is_checked_against_stored_values(client, admin_headers):
    event = make_event(starts_in=timedelta(days=7))
    stored = fresh(Event, event.id)
    starts_at, ends_at = stored.starts_at, stored.ends_at

    too_early_end = client.put(f"/api/events/{event.id}", json={"endsAt": iso(starts_at - timedelta(hours=1))},
                               headers=admin_headers)
    too_late_start = client.put(f"/api/events/{event.id}", json={"startsAt": iso(ends_at + timedelta(hours=1))},
                                headers=admin_headers)
    past_start = client.put(f"/api/events/{event.id}", json={"startsAt": "2020-01-01T00:00:00Z"},
                            headers=admin_headers)
    moved = client.put(f"/api/events/{event.id}", json={"startsAt": iso(starts_at + timedelta(days=1)),
                                                        "endsAt": iso(ends_at + timedelta(days=1))},
                       headers=admin_headers)

    assert "endsAt" in assert_error(too_early_end, 400, "VALIDATION_ERROR")
    assert "startsAt" in assert_error(too_late_start, 400, "VALIDATION_ERROR")
    assert "startsAt" in assert_error(past_start, 400, "VALIDATION_ERROR")
    assert moved.status_code == 200
    assert iso(fresh(Event, event.id).starts_at) == iso(starts_at + timedelta(days=1))


@pytest.mark.parametrize("body, field", [
    ({}, "_schema"),
    ({"capacity": 0}, "capacity"),
    ({"price": "1.234"}, "price"),
    ({"status": "cancelled"}, "status"),
    ({"bookedSeats": 3}, "bookedSeats"),
    ({"id": 3}, "id"),
    ({"title": None}, "title"),
    # Valid ISO 8601 whose UTC instant falls outside Python's years 1-9999 (found by schemathesis).
    ({"startsAt": "0001-01-01T00:00:00Z", "endsAt": "0001-01-01T00:00:00+15:36"}, "endsAt"),
    ({"endsAt": "9999-12-31T23:59:59-10:00"}, "endsAt"),
])
def test_update_rejects_bad_fields(client, admin_headers, body, field):
    event = make_event(title="Same")

    details = assert_error(client.put(f"/api/events/{event.id}", json=body, headers=admin_headers),
                           400, "VALIDATION_ERROR")

    assert field in details, details
    assert fresh(Event, event.id).title == "Same"


def test_update_capacity_below_booked_is_409(client, admin_headers):
    event = make_event(capacity=10, booked_seats=6)

    response = client.put(f"/api/events/{event.id}", json={"capacity": 5, "title": "Changed"}, headers=admin_headers)

    details = assert_error(response, 409, "CAPACITY_BELOW_BOOKED")
    assert details == {"capacity": 5, "bookedSeats": 6}
    row = fresh(Event, event.id)
    assert row.capacity == 10 and row.title != "Changed"


def test_update_capacity_down_to_booked_mirrors_the_gate(client, admin_headers):
    event = make_event(capacity=10, booked_seats=6)
    gate.rebuild(event)

    response = client.put(f"/api/events/{event.id}", json={"capacity": 6}, headers=admin_headers)

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["data"]["availableSeats"] == 0
    assert fresh(Event, event.id).capacity == 6
    assert int(gate.state(event)["avail"]) == 0


def test_update_capacity_up_opens_seats_in_the_gate(client, admin_headers):
    event = make_event(capacity=10, booked_seats=10)
    gate.rebuild(event)

    response = client.put(f"/api/events/{event.id}", json={"capacity": 15}, headers=admin_headers)

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["data"]["availableSeats"] == 5
    assert fresh(Event, event.id).capacity == 15
    assert int(gate.state(event)["avail"]) == 5


def test_update_cancelled_event_is_409(client, admin_headers):
    event = make_event(status="cancelled", title="Gone")

    assert_error(client.put(f"/api/events/{event.id}", json={"title": "Back"}, headers=admin_headers),
                 409, "EVENT_CANCELLED")
    assert fresh(Event, event.id).title == "Gone"


def test_update_missing_event_is_404(client, admin_headers):
    assert_error(client.put("/api/events/999999", json={"title": "X"}, headers=admin_headers), 404, "NOT_FOUND")


def test_update_is_admin_only(client, user_headers):
    event = make_event(title="Mine")

    assert_error(client.put(f"/api/events/{event.id}", json={"title": "X"}), 401, "UNAUTHORIZED")
    assert_error(client.put(f"/api/events/{event.id}", json={"title": "X"}, headers=user_headers), 403, "FORBIDDEN")
    assert_error(client.put(f"/api/events/{event.id}", json={"bogus": 1}, headers=user_headers), 403, "FORBIDDEN")
    assert fresh(Event, event.id).title == "Mine"


def test_patch_is_405(client, admin_headers):
    event = make_event()

    response = client.patch(f"/api/events/{event.id}", json={"title": "X"}, headers=admin_headers)

    assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert "PUT" in response.headers["Allow"]
    assert_error(client.delete("/api/events", headers=admin_headers), 405, "METHOD_NOT_ALLOWED")


# --- DELETE /api/events/<id> -------------------------------------------------------------------------------------

def test_delete_event_nobody_ever_held_removes_it(client, admin_headers):
    event = make_event(capacity=10)
    gate.rebuild(event)
    assert gate.state(event)

    response = client.delete(f"/api/events/{event.id}", headers=admin_headers)

    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"message": "Event deleted.", "data": {"id": event.id, "deleted": True}}
    assert fresh(Event, event.id) is None
    assert gate.state(event) == {}
    assert_error(client.delete(f"/api/events/{event.id}", headers=admin_headers), 404, "NOT_FOUND")


def test_delete_event_with_only_waiters_cancels_it_and_tells_each_of_them(client, admin_headers):
    """Deleting used to remove such an event outright, its waiters' entries vanishing unannounced."""
    event = make_event(capacity=10)
    waiters = [make_user(), make_user()]
    entries = [make_waitlist_entry(event=event, user=waiter) for waiter in waiters]

    response = client.delete(f"/api/events/{event.id}", headers=admin_headers)

    assert response.status_code == 200, response.get_json()
    job = response.get_json()["data"]["cancellationJob"]
    assert response.get_json()["data"]["deleted"] is False and job["total"] == 2
    cancellation.run_batch(job_id=job["id"])
    assert fresh(Event, event.id).status == "cancelled"
    assert [fresh(WaitlistEntry, entry.id).status for entry in entries] == ["cancelled", "cancelled"]
    told = db.session.scalars(select(Notification.user_id).where(Notification.kind == "event_cancelled")).all()
    assert sorted(told) == sorted(waiter.id for waiter in waiters)


def test_delete_event_with_a_request_in_flight_cancels_it(client, admin_headers):
    """A request between the gate and its commit holds seats: the event is cancelled, not
    deleted, so that request's write is refused as for any cancelled event."""
    event = make_event(capacity=10)
    gate.take(event, hold_id="in-flight", quantity=2)

    response = client.delete(f"/api/events/{event.id}", headers=admin_headers)

    assert response.status_code == 200 and response.get_json()["data"]["deleted"] is False
    assert fresh(Event, event.id).status == "cancelled"


def test_delete_event_with_bookings_cancels_it(client, admin_headers, user):
    event = make_event(capacity=10, booked_seats=2)
    booking = make_booking(event=event, user=user, quantity=2)
    make_waitlist_entry(event=event, user=make_user())
    gate.rebuild(event)

    response = client.delete(f"/api/events/{event.id}", headers=admin_headers)

    assert response.status_code == 200, response.get_json()
    payload = response.get_json()
    assert payload["message"] == "Event cancelled; its bookings are being cancelled and everyone notified."
    assert payload["data"]["id"] == event.id and payload["data"]["status"] == "cancelled"
    assert payload["data"]["availableSeats"] == 0 and payload["data"]["deleted"] is False
    job = payload["data"]["cancellationJob"]
    assert (job["kind"], job["status"], job["total"], job["done"]) == ("event_cancellation", "queued", 2, 0)
    assert fresh(Event, event.id).status == "cancelled"
    # The bookings and the waiter are cancelled by the job's worker (tests/waitlist covers it end to end).
    assert fresh(BackgroundJob, job["id"]).subject_id == event.id
    assert booking.id is not None
    assert gate.state(event) == {}  # sales stopped
    assert_error(client.get(f"/api/events/{event.id}"), 404, "NOT_FOUND")


def test_delete_event_with_only_cancelled_bookings_still_cancels_it(client, admin_headers, user):
    event = make_event()
    make_booking(event=event, user=user, status="cancelled")

    response = client.delete(f"/api/events/{event.id}", headers=admin_headers)

    assert response.status_code == 200
    assert fresh(Event, event.id).status == "cancelled"


def test_delete_cancelled_event_is_409(client, admin_headers):
    event = make_event(status="cancelled")

    assert_error(client.delete(f"/api/events/{event.id}", headers=admin_headers), 409, "EVENT_CANCELLED")
    assert fresh(Event, event.id).status == "cancelled"


def test_delete_missing_event_is_404(client, admin_headers):
    assert_error(client.delete("/api/events/424242", headers=admin_headers), 404, "NOT_FOUND")


def test_delete_is_admin_only(client, user_headers):
    event = make_event()

    assert_error(client.delete(f"/api/events/{event.id}"), 401, "UNAUTHORIZED")
    assert_error(client.delete(f"/api/events/{event.id}", headers=user_headers), 403, "FORBIDDEN")
    assert fresh(Event, event.id).status == "published"


def test_openapi_documents_the_events_routes(client, app_ctx):
    spec = client.get("/api/openapi.json").get_json()

    assert set(spec["paths"]["/api/events"]) >= {"get", "post"}
    assert set(spec["paths"]["/api/events/{event_id}"]) >= {"get", "put", "delete"}
    assert spec["components"]["schemas"]["Event"]["properties"]["price"]["type"] == "number"


def test_a_published_event_with_bookings_cannot_go_back_to_draft(client, admin_headers, user):
    event = make_event(capacity=10, booked_seats=1)
    make_booking(event=event, user=user, quantity=1)

    response = client.put(f"/api/events/{event.id}", json={"status": "draft"}, headers=admin_headers)

    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "EVENT_HAS_BOOKINGS"
    assert fresh(Event, event.id).status == "published"


def test_a_published_event_without_bookings_may_go_back_to_draft(client, admin_headers):
    event = make_event(capacity=10)

    response = client.put(f"/api/events/{event.id}", json={"status": "draft"}, headers=admin_headers)

    assert response.status_code == 200
    assert fresh(Event, event.id).status == "draft"
