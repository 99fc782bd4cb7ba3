"""Schemathesis against /api/openapi.json through the WSGI app: every built-in check, as a user
and as an admin, on a seeded database so generated ids also hit real rows.

Pass criterion: no 5xx, every response conforms to the documented schema, status code
(declared explicitly, not only through `default`), content type and headers.
"""
import re

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.openapi.checks import EnsureResourceAvailability, UseAfterFree
from schemathesis.specs.openapi.checks import ensure_resource_availability, positive_data_acceptance, use_after_free
from sqlalchemy import text

from evently import create_app
from evently.extensions import db, redis_client
from evently.http import UNSTORABLE_TEXT
from tests.conftest import all_tables
from tests.fuzz.helpers import seed_world


def load_schema():
    # Built at collection, before the session `app` fixture; create_app() rebinds module
    # singletons to the app it builds last, so the session app wins again. Both use the
    # same test database and Redis; this one also answers the probes some checks send.
    return schemathesis.openapi.from_wsgi("/api/openapi.json", create_app("testing"))


schema = load_schema()
# The tests send a real token with every call; negating a generated one would be overridden by it.
schema.config.generation.update(with_security_parameters=False)
KNOWN_IDS = {}  # path parameter name -> ids of seeded rows, set by the `world` fixture
FAST = settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
                database=None)
HEAVY = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)


@schema.hook
def flatmap_path_parameters(_context, path_parameters):
    """Half of the positive ids are swapped for seeded ones, so routes act on real rows too."""
    choices = [path_parameters]
    for name, value in (path_parameters or {}).items():
        if isinstance(value, int) and not isinstance(value, bool) and value > 0 and KNOWN_IDS.get(name):
            choices += [{**path_parameters, name: known} for known in KNOWN_IDS[name]]
    return st.sampled_from(choices)


# Rules that JSON Schema cannot state (cross-field, time, per-event limits, what PostgreSQL can
# store, exact decimals): a 400 naming only these is a correct answer to a schema-valid request.
BUSINESS_RULES = [
    ("from", r"Must not be after `to`\."),
    ("startsAt", r"Must be in the future\."),
    (None, r"(endsAt )?[Mm]ust be after startsAt\."),  # the service names whichever field it was sent
    ("title", r"Must not be blank\."),  # Python's whitespace (e.g. U+001D) is not JSON Schema's
    ("venue", r"Must not be blank\."),
    ("name", r"Must not be blank\."),
    (None, r"The moment falls outside the years 1 to 9999 in UTC\."),  # Python's datetime range
    ("quantity", r"At most \d+ tickets per booking\."),
    ("quantity", r"This event has \d+ seats in all\."),
    ("quantity", r"This booking holds \d+ seats\."),
    ("position", r"The queue has \d+ entries\."),
    ("price", r"Use at most 2 decimal places\."),
    ("timezone", r"Use an IANA time zone name, such as Europe/Paris or UTC\."),  # zoneinfo's database, not a pattern
    ("_schema", r"Send at least one field to change\."),
    ("to", r"The range spans more than \d+ \w+ buckets; narrow it or use a coarser granularity\."),
    # Analytics days: JSON Schema has no bounds for a `format: date` string (x-minimum/x-maximum say it).
    (None, r"Must be greater than or equal to 1970-01-01 and less than or equal to 9998-12-31\."),
    (None, re.escape(UNSTORABLE_TEXT)),
]
STATE_CONFLICTS = {422: {"IDEMPOTENCY_KEY_REUSED"}}  # a generated key reused with another body


def _is_business_rule(field, messages):
    return any(rule_field in (None, field) and all(re.fullmatch(rule, message) for message in messages)
               for rule_field, rule in BUSINESS_RULES)


def positive_data_accepted_unless_business_rule(ctx, response, case):
    try:
        return positive_data_acceptance(ctx, response, case)
    except AssertionError:
        error = (response.json() or {}).get("error") or {}
        if response.status_code == 400 and error.get("code") == "VALIDATION_ERROR" and error.get("details") and all(
                _is_business_rule(field, messages) for field, messages in error["details"].items()):
            return None
        if error.get("code") in STATE_CONFLICTS.get(response.status_code, ()):
            return None
        raise


# DELETE is a soft delete by contract where history must stay: an event with bookings becomes
# `cancelled`, a cancelled booking stays readable; leaving a waitlist removes no event.
SOFT_DELETES = [
    (re.compile(r"DELETE /api/events/(\d+)"), "SELECT status = 'cancelled' FROM events WHERE id = :id"),
    (re.compile(r"DELETE /api/bookings/(\d+)"), "SELECT status = 'cancelled' FROM bookings WHERE id = :id"),
    (re.compile(r"DELETE /api/waitlist/(\d+)"), "SELECT true"),
]


def deleted_resources_are_gone_unless_soft_deleted(ctx, response, case):
    try:
        return use_after_free(ctx, response, case)
    except UseAfterFree as failure:
        for pattern, query in SOFT_DELETES:
            match = pattern.fullmatch(failure.free)
            if match and db.session.execute(text(query), {"id": int(match.group(1))}).scalar():
                return None
        raise


# Sub-resources that a created parent does not have until something happens to it: a new
# event has no cancellation job until it is cancelled, and says so with a 404 (the contract).
NOT_YET_CREATED = {"GET /api/events/{event_id}/cancellation": "This event has no cancellation job."}


def created_resources_found_unless_not_yet_created(ctx, response, case):
    try:
        return ensure_resource_availability(ctx, response, case)
    except EnsureResourceAvailability:
        if (response.json() or {}).get("message") == NOT_YET_CREATED.get(case.operation.label):
            return None
        raise


def status_code_declared_explicitly(ctx, response, case):
    """Stricter than status_code_conformance, which accepts anything once `default` exists."""
    if case.method.upper() != case.operation.method.upper():
        return None  # another method probed on the path: unsupported_method checks its 405 and Allow
    declared = set(case.operation.responses.status_codes) - {"default"}
    assert str(response.status_code) in declared, (
        f"{case.operation.label} answered {response.status_code}, which it does not declare: {sorted(declared)}")


def error_is_the_envelope(ctx, response, case):
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"message", "error"} and set(body["error"]) == {"code", "details"}, body


CHECKS = dict(excluded_checks=[positive_data_acceptance, use_after_free, ensure_resource_availability],
              additional_checks=[positive_data_accepted_unless_business_rule, status_code_declared_explicitly,
                                 deleted_resources_are_gone_unless_soft_deleted,
                                 created_resources_found_unless_not_yet_created, error_is_the_envelope])


@pytest.fixture
def world(app_ctx):
    seeded = seed_world()
    KNOWN_IDS.clear()
    KNOWN_IDS.update(booking_id=[seeded.booking_id], ticket_id=seeded.ticket_ids, event_id=[
        seeded.event_id, seeded.sold_out_event_id, seeded.full_event_id, seeded.draft_event_id])
    yield seeded
    KNOWN_IDS.clear()


def reset_world():
    db.session.remove()
    with db.engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {', '.join(all_tables())} RESTART IDENTITY CASCADE"))
    redis_client.flushdb()
    seed_world()  # the same ids and users again, so the tokens of `world` stay valid


def assert_invariants():
    """No event oversold, and its booked seats are exactly its confirmed bookings."""
    oversold = db.session.execute(text(
        "SELECT e.id FROM events e LEFT JOIN bookings b ON b.event_id = e.id AND b.status = 'confirmed' "
        "GROUP BY e.id HAVING e.booked_seats > e.capacity OR e.booked_seats <> COALESCE(SUM(b.quantity), 0)"
    )).all()
    assert oversold == [], oversold


def call_and_validate(case, app, headers):
    case.call_and_validate(headers=headers, app=app, **CHECKS)
    assert_invariants()


@schema.parametrize()
@FAST
def test_api_as_user(case, app, world):
    call_and_validate(case, app, world.user_headers)


@schema.parametrize()
@FAST
def test_api_as_admin(case, app, world):
    call_and_validate(case, app, world.admin_headers)


@schema.parametrize()
@FAST
def test_api_as_staff(case, app, world):
    call_and_validate(case, app, world.staff_headers)


@pytest.mark.slow
@schema.parametrize()
@HEAVY
def test_api_as_user_heavy(case, app, world):
    call_and_validate(case, app, world.user_headers)


@pytest.mark.slow
@schema.parametrize()
@HEAVY
def test_api_as_admin_heavy(case, app, world):
    call_and_validate(case, app, world.admin_headers)


def run_workflows(app, world, max_examples):
    """Stateful: chains of calls along the links schemathesis infers (an event created, then
    booked, its booking fetched and cancelled...), every response validated, invariants after each."""

    class Workflow(schema.as_state_machine()):
        def setup(self):
            # Every scenario starts from the same rows, so Hypothesis can replay and shrink it.
            reset_world()

        def get_call_kwargs(self, case):
            return {"headers": world.admin_headers, "app": app}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, headers=kwargs.get("headers"), transport_kwargs=kwargs,
                                   recorder=self.recorder, **CHECKS)

        def teardown(self):
            assert_invariants()

    Workflow.run(settings=settings(max_examples=max_examples, stateful_step_count=6, deadline=None,
                                   suppress_health_check=list(HealthCheck), database=None))


def test_stateful_workflows(app, world):
    run_workflows(app, world, max_examples=15)


@pytest.mark.slow
def test_stateful_workflows_heavy(app, world):
    run_workflows(app, world, max_examples=200)
