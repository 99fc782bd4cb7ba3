"""The holds of committed bookings leave Redis in batches, off the request's path; a batch that
never runs leaves holds that change nothing and that reconcile drops."""
import pytest

from evently.bookings import services as bookings
from evently.seats import gate, holds, reconcile
from tests import factories
from tests.waiting import wait_until


def hold_fields(event):
    return [field for field in gate.state(event) if field.startswith("h:")]


@pytest.fixture
def finisher(app, monkeypatch):
    batcher = holds.HoldFinisher(app, linger=0.2)
    monkeypatch.setitem(app.extensions, holds.FINISHER, batcher)
    yield batcher
    batcher.flush()


def test_finished_holds_leave_redis_in_one_batch(app_ctx, finisher, monkeypatch):
    batches = []
    finish_all = gate.finish_all
    monkeypatch.setattr(gate, "finish_all", lambda pairs: batches.append(len(pairs)) or finish_all(pairs))
    event = factories.make_event(capacity=20)

    for buyer in factories.make_users(5):
        bookings.book_seats(user=buyer, event_id=event.id, quantity=2)
    assert len(hold_fields(event)) == 5  # answered before their holds were dropped

    wait_until(lambda: not hold_fields(event), message="the holds dropped")
    assert batches == [5]
    assert int(gate.state(event)["avail"]) == 10


def test_a_batch_that_never_ran_changes_nothing_and_reconcile_drops_it(app_ctx, finisher, monkeypatch):
    monkeypatch.setattr(finisher, "submit", lambda _item: None)  # the process died before its flush
    event = factories.make_event(capacity=20)
    for buyer in factories.make_users(3):
        bookings.book_seats(user=buyer, event_id=event.id, quantity=2)
    assert len(hold_fields(event)) == 3 and int(gate.state(event)["avail"]) == 14

    report = reconcile.reconcile_event(event.id, ttl_seconds=-1)

    assert (report.holds_dropped, report.reaped_holds, report.avail_after) == (3, 0, 14)
    assert not hold_fields(event)
