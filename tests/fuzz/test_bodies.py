"""Hypothesis on the request bodies that write: whatever JSON arrives, the answer is a 2xx or
the 4xx envelope, never a 5xx, and a 4xx leaves every table as it was."""
import json
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.helpers import assert_envelope, row_counts, seed_world

NASTY_STRINGS = ["", " ", "NaN", "-NaN", "Infinity", "-Infinity", "1e999", "-0", "0x10", "1_000", "１２", "٣",
                 "\x00", "a\x00b", "\ud800", "x\udfffy", "\u202e", "\ufeff", "' OR 1=1 --", "%s%n", "{{7*7}}",
                 "../../etc/passwd", "2026-13-45T99:99:99Z", "2026-12-01T19:00:00", "9999-12-31T23:59:59Z",
                 "true", "null", "[]", "x" * 10_000]
SCALARS = st.one_of(
    st.none(), st.booleans(),
    st.integers(), st.integers(min_value=-(2**200), max_value=2**200), st.sampled_from([2**31, 2**63, -(2**63) - 1]),
    st.floats(allow_nan=False, allow_infinity=False), st.sampled_from([0.1, 1e308, -0.0, 1e-300, 25.005]),
    st.text(max_size=30), st.text(st.characters(codec="utf-8"), max_size=30), st.sampled_from(NASTY_STRINGS),
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=15)
SETTINGS = dict(deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                     HealthCheck.too_slow])


def bodies(valid):
    """Arbitrary JSON, or the valid body with any field replaced, dropped or joined by extra keys."""
    mutated = st.fixed_dictionaries({}, optional={key: st.one_of(st.just(value), JSON_VALUES)
                                                  for key, value in valid.items()})
    extra = st.dictionaries(st.text(max_size=12).filter(lambda key: key not in valid), JSON_VALUES, max_size=3)
    with_extra = st.builds(lambda body, more: {**body, **more}, mutated, extra)
    return st.one_of(JSON_VALUES, mutated, with_extra)


def future(days, hours=0):
    return (datetime.now(timezone.utc) + timedelta(days=days, hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def world(app_ctx):
    return seed_world()


def routes(world):
    event = {"title": "Fuzz Fest", "description": "d", "venue": "Hall", "startsAt": future(10),
             "endsAt": future(10, 3), "capacity": 10, "price": 12.5, "currency": "EUR", "status": "published",
             "maxPerBooking": 4}
    return {
        "POST /api/bookings": (world.user_headers, {"eventId": world.event_id, "quantity": 1, "allowPartial": True,
                                                    "joinWaitlist": True}),
        "POST /api/waitlist": (world.user_headers, {"eventId": world.full_event_id, "quantity": 1,
                                                    "allowPartial": True}),
        "POST /api/events": (world.admin_headers, event),
        f"PUT /api/events/{world.event_id}": (world.admin_headers, {"title": "Renamed", "capacity": 60,
                                                                    "price": 30, "endsAt": future(7, 5)}),
        "POST /api/auth/register": ({}, {"email": "fuzz@example.com", "password": "longenough1", "name": "Fuzz"}),
    }


ROUTES = ["POST /api/bookings", "POST /api/waitlist", "POST /api/events", "PUT /api/events/{id}",
          "POST /api/auth/register"]


def send(client, route, headers, body):
    method, path = route.split(" ", 1)
    return client.open(path, method=method, data=json.dumps(body), content_type="application/json", headers=headers)


def check_one(client, route, headers, body):
    before = row_counts()
    response = send(client, route, headers, body)
    assert response.status_code < 500, (route, body, response.get_data(as_text=True)[:500])
    assert response.is_json, (route, body, response.mimetype)
    if response.status_code >= 400:
        assert_envelope(response, response.status_code)
        assert response.status_code in {400, 404, 409, 422}, (route, body, response.get_json())
        assert row_counts() == before, (route, body, response.get_json())
    else:
        assert response.status_code in {200, 201}, (route, body)
        assert set(response.get_json()) == {"message", "data"}


def _route(world, name):
    table = routes(world)
    key = name.replace("{id}", str(world.event_id))
    return key, *table[key]


@pytest.mark.parametrize("name", ROUTES)
@settings(max_examples=60, derandomize=True, **SETTINGS)
@given(data=st.data())
def test_any_json_body_is_a_2xx_or_a_clean_4xx(client, world, name, data):
    route, headers, valid = _route(world, name)
    check_one(client, route, headers, data.draw(bodies(valid), label="body"))


@pytest.mark.slow
@pytest.mark.parametrize("name", ROUTES)
@settings(max_examples=600, **SETTINGS)
@given(data=st.data())
def test_any_json_body_is_a_2xx_or_a_clean_4xx_heavy(client, world, name, data):
    route, headers, valid = _route(world, name)
    check_one(client, route, headers, data.draw(bodies(valid), label="body"))


@pytest.mark.parametrize("name", ROUTES)
def test_the_valid_bodies_are_accepted(client, world, name):
    """Keeps the property above honest: its starting bodies really pass validation."""
    route, headers, valid = _route(world, name)

    response = send(client, route, headers, valid)

    assert response.status_code in {200, 201}, response.get_json()
