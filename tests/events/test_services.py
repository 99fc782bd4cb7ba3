"""Events services called directly: their errors, their transactions, and their query counts."""
from datetime import timedelta

import pytest
from sqlalchemy import event as sa_event

from evently.errors import CapacityBelowBooked, Forbidden, NotFound, Unauthorized, ValidationError
from evently.events import services
from evently.events.models import Event
from evently.extensions import db
from evently.seats import gate
from tests.factories import make_event, make_user

from .helpers import count, fresh, in_days, make_booking, make_waitlist_entry


class StatementCounter:
    def __init__(self, engine):
        self.engine, self.count = engine, 0

    def __call__(self, *_args):
        self.count += 1

    def __enter__(self):
        sa_event.listen(self.engine, "before_cursor_execute", self)
        return self

    def __exit__(self, *_exc):
        sa_event.remove(self.engine, "before_cursor_execute", self)


def statements_to_list(per_page):
    db.session.expire_all()
    with StatementCounter(db.engine) as counter:
        page = services.list_events(viewer=None, per_page=per_page)
        for view in page.items:
            (view.title, view.updated_at, view.available_seats, view.waitlist_count)
    return counter.count, page


def test_listing_a_page_costs_the_same_queries_for_2_or_20_events(app_ctx):
    for index in range(20):
        event = make_event(title=f"E{index:02d}", starts_in=timedelta(days=index + 1))
        make_waitlist_entry(event=event, user=make_user())

    small, small_page = statements_to_list(2)
    large, large_page = statements_to_list(20)

    assert len(small_page.items) == 2 and len(large_page.items) == 20
    assert small == large == 3  # count, page, grouped waitlist sizes
    assert all(view.waitlist_count == 1 for view in large_page.items)


def test_escape_like():
    assert services.escape_like(r"50%_off\now") == r"50\%\_off\\now"


def test_admin_only_services_check_the_actor(app_ctx):
    user = make_user()
    event = make_event()

    with pytest.raises(Unauthorized):
        services.create_event(actor=None, title="T", venue="V", starts_at=in_days(1), ends_at=in_days(2),
                              capacity=1, price=1)
    with pytest.raises(Forbidden):
        services.update_event(actor=user, event_id=event.id, title="X")
    with pytest.raises(Forbidden):
        services.delete_event(actor=user, event_id=event.id)
    with pytest.raises(Forbidden):
        services.list_events(viewer=user, status="all")
    assert fresh(Event, event.id).title != "X"


def test_create_event_uses_the_configured_max_per_booking(app_ctx):
    admin = make_user(role="admin")
    app_ctx.config["DEFAULT_MAX_PER_BOOKING"] = 7
    try:
        view = services.create_event(actor=admin, title=" T ", venue=" V ", starts_at=in_days(1),
                                     ends_at=in_days(2), capacity=5, price=0)
    finally:
        app_ctx.config["DEFAULT_MAX_PER_BOOKING"] = 10

    row = fresh(Event, view.id)
    assert (row.max_per_booking, row.title, row.venue, row.created_by_id) == (7, "T", "V", admin.id)
    assert view.available_seats == 5 and view.waitlist_count == 0


def test_failed_update_rolls_back_every_change(app_ctx):
    admin = make_user(role="admin")
    event = make_event(capacity=10, booked_seats=4, title="Before")

    with pytest.raises(CapacityBelowBooked):
        services.update_event(actor=admin, event_id=event.id, title="After", capacity=3)

    assert not db.session.dirty and not db.session().in_transaction()
    row = fresh(Event, event.id)
    assert (row.title, row.capacity) == ("Before", 10)


def test_update_checks_merged_schedule(app_ctx):
    admin = make_user(role="admin")
    event = make_event(starts_in=timedelta(days=3))

    with pytest.raises(ValidationError) as raised:
        services.update_event(actor=admin, event_id=event.id, ends_at=in_days(1))

    assert raised.value.details == {"endsAt": ["endsAt must be after startsAt."]}


def test_update_keeps_the_gate_in_step_with_capacity(app_ctx):
    admin = make_user(role="admin")
    event = make_event(capacity=10, booked_seats=3)
    gate.take(event, hold_id="in-flight", quantity=2)  # builds the gate: 7 - 2 held = 5

    raised = services.update_event(actor=admin, event_id=event.id, capacity=14)
    assert raised.available_seats == 9
    lowered = services.update_event(actor=admin, event_id=event.id, capacity=6)
    assert lowered.available_seats == 1

    assert fresh(Event, event.id).capacity == 6
    assert int(gate.state(event)["avail"]) == 1


def test_get_event_hides_unpublished_from_non_admins(app_ctx):
    draft = make_event(status="draft")

    with pytest.raises(NotFound):
        services.get_event(viewer=None, event_id=draft.id)
    with pytest.raises(NotFound):
        services.get_event(viewer=make_user(), event_id=draft.id)
    assert services.get_event(viewer=make_user(role="admin"), event_id=draft.id).status == "draft"


def test_delete_event_results(app_ctx):
    admin = make_user(role="admin")
    unbooked, booked = make_event(), make_event(booked_seats=1)
    make_booking(event=booked, user=make_user())

    removed = services.delete_event(actor=admin, event_id=unbooked.id)
    cancelled = services.delete_event(actor=admin, event_id=booked.id)

    assert (removed.deleted, removed.event) == (True, None)
    assert cancelled.deleted is False and cancelled.event.status == "cancelled"
    assert count(Event) == 1 and fresh(Event, booked.id).status == "cancelled"
    with pytest.raises(services.EventCancelled):
        services.delete_event(actor=admin, event_id=booked.id)
