"""The booking engine's promises: holds replay, seats return exactly once,
reconcile never frees a seat a commit is about to use, Redis loss is survived."""
import threading
import time

import pytest
from sqlalchemy import func, select, text

from evently.auth.models import User
from sqlalchemy.exc import IntegrityError

from evently.bookings import services
from evently.bookings.models import Booking
from evently.common.ids import booking_reference
from evently.errors import Unavailable
from evently.events.models import Event
from evently.extensions import db, redis_client
from evently.notifications.models import Notification
from evently.seats import admission, gate, holds, reconcile, writer
from evently.seats.models import SeatHold
from evently.waitlist.models import WaitlistEntry
from tests import factories
from tests.variants import other_app


def avail(event_id):
    return int(gate.state(gate.ref(event_id))["avail"])


def pg_booked(event_id):
    db.session.expire_all()
    return db.session.get(Event, event_id).booked_seats


def test_a_repeated_take_returns_the_first_answer(app_ctx):
    """redis-py re-runs a script whose reply timed out; the hold id makes the repeat harmless."""
    event = factories.make_event(capacity=20)
    first = gate.take(event, hold_id="h1", quantity=2)
    again = gate.take(event, hold_id="h1", quantity=2)
    assert (first.status, first.taken) == ("OK", 2)
    assert (again.status, again.taken) == ("REPLAY", 2)
    assert avail(event.id) == 18


def test_a_repeated_take_that_queued_repeats_its_position(app_ctx):
    """The gate numbers waitlist joins; a re-run script must not count the same join twice."""
    event = factories.make_event(capacity=2)
    gate.take(event, hold_id="buyer", quantity=2)
    first = gate.take(event, hold_id="h1", quantity=3)
    second = gate.take(event, hold_id="h2", quantity=1)
    again = gate.take(event, hold_id="h1", quantity=3)
    assert [(d.status, d.taken, d.waitlisted, d.position) for d in (first, second, again)] == [
        ("OK", 0, True, 1), ("OK", 0, True, 2), ("REPLAY", 0, True, 1)]
    assert gate.state(event)["nwait"] == "2"


def test_a_missing_gate_is_rebuilt_from_postgresql_not_zero_or_full(app_ctx, user):
    event = factories.make_event(capacity=100)
    services.book_seats(user=user, event_id=event.id, quantity=10)
    db.session.execute(text("UPDATE events SET booked_seats = 60 WHERE id = :id"), {"id": event.id})
    db.session.commit()
    redis_client.flushdb()  # this test's Redis DB only: never wipe a developer's other DBs
    result = services.book_seats(user=factories.make_user(), event_id=event.id, quantity=10)
    assert result.booking.quantity == 10
    assert avail(event.id) == 30
    result = services.book_seats(user=factories.make_user(), event_id=event.id, quantity=10, allow_partial=True)
    assert pg_booked(event.id) == 80


def test_script_flush_is_survived(app_ctx, user):
    event = factories.make_event(capacity=5)
    services.book_seats(user=user, event_id=event.id, quantity=1)
    redis_client.script_flush()
    services.book_seats(user=factories.make_user(), event_id=event.id, quantity=1)
    assert pg_booked(event.id) == 2 and avail(event.id) == 3


def test_a_failed_postgresql_transaction_returns_the_seats_exactly_once(app_ctx, user):
    event = factories.make_event(capacity=10)
    # A real failure inside the booking transaction: a trigger that refuses quantity 7.
    db.session.execute(text("""
        CREATE OR REPLACE FUNCTION refuse_seven() RETURNS trigger AS $$
        BEGIN IF NEW.quantity = 7 THEN RAISE EXCEPTION 'refused for the test'; END IF; RETURN NEW; END $$
        LANGUAGE plpgsql;
        CREATE TRIGGER refuse_seven BEFORE INSERT ON bookings FOR EACH ROW EXECUTE FUNCTION refuse_seven();
    """))
    db.session.commit()
    try:
        with pytest.raises(Exception, match="refused for the test"):
            services.book_seats(user=user, event_id=event.id, quantity=7)
        db.session.rollback()
        assert avail(event.id) == 10
        assert pg_booked(event.id) == 0
        assert db.session.scalar(select(SeatHold.outcome)) == "released"
        assert not [key for key in gate.state(event) if key.startswith("h:")]
        # A late second release of the same hold (a retry) changes nothing.
        hold_id = db.session.scalar(select(SeatHold.hold_id))
        assert holds.release_hold(event, hold_id=hold_id) == 0
        assert avail(event.id) == 10
    finally:
        db.session.rollback()
        db.session.execute(text("DROP TRIGGER refuse_seven ON bookings; DROP FUNCTION refuse_seven()"))
        db.session.commit()


def test_a_request_that_died_after_taking_seats_gets_them_reaped_once(app_ctx):
    event = factories.make_event(capacity=10)
    gate.take(event, hold_id="dead-request", quantity=4)  # then the process "died"
    assert avail(event.id) == 6
    assert reconcile.reconcile_event(event_id=event.id).avail_after == 6  # not expired yet: kept
    report = reconcile.reconcile_event(event_id=event.id, ttl_seconds=-1)
    assert (report.reaped_holds, report.reaped_seats) == (1, 4)
    assert avail(event.id) == 10
    again = reconcile.reconcile_event(event_id=event.id, ttl_seconds=-1)
    assert again.reaped_holds == 0 and not again.corrected and avail(event.id) == 10


@pytest.mark.race
def test_reaper_never_frees_a_seat_whose_commit_is_in_flight(app, app_ctx):
    """The booking transaction has claimed its hold but not committed when the
    reaper runs: the reaper waits on the claim and then leaves the seats taken."""
    event = factories.make_event(capacity=10)
    gate.take(event, hold_id="in-flight", quantity=3)
    committer = db.engine.connect()
    tx = committer.begin()
    committer.execute(text("INSERT INTO seat_holds (hold_id, event_id, outcome) VALUES ('in-flight', :e, 'committed')"),
                      {"e": event.id})
    reaped = {}

    def reap():
        with app.app_context():
            reaped["result"] = reconcile.reap_expired_holds(event_id=event.id, ttl_seconds=-1)
            db.session.remove()

    reaper = threading.Thread(target=reap)
    reaper.start()
    time.sleep(0.5)
    assert reaper.is_alive(), "the reaper must wait for the in-flight claim"
    committer.execute(text("UPDATE events SET booked_seats = booked_seats + 3 WHERE id = :e"), {"e": event.id})
    tx.commit()
    committer.close()
    reaper.join(10)
    assert reaped["result"] == (0, 0)
    assert avail(event.id) == 7
    report = reconcile.reconcile_event(event_id=event.id)
    assert (report.avail_before, report.avail_after, report.holds_dropped) == (7, 7, 1)


def test_reconcile_corrects_drift_and_reports_it(app_ctx, user):
    event = factories.make_event(capacity=10)
    services.book_seats(user=user, event_id=event.id, quantity=2)
    redis_client.hset(gate.key(event), "avail", 1)  # drift
    report = reconcile.reconcile_all()
    corrected = {item.event_id: item for item in report.corrections}
    assert (corrected[event.id].avail_before, corrected[event.id].avail_after) == (1, 8)
    assert "1 -> 8" in report.summary()
    assert avail(event.id) == 8


def test_reconcile_restores_lost_waiters_so_nobody_jumps_the_queue(app_ctx, user):
    event = factories.make_event(capacity=3)
    services.book_seats(user=user, event_id=event.id, quantity=3)
    services.book_seats(user=factories.make_user(), event_id=event.id, quantity=3)
    key = gate.key(event)
    for field in [f for f in redis_client.hkeys(key) if f.startswith("w:")]:
        redis_client.hdel(key, field)
    redis_client.hset(key, mapping={"nwait": 0, "avail": 1})
    report = reconcile.reconcile_event(event_id=event.id)
    assert report.waiters_added == 1 and report.avail_after == 0
    assert gate.state(event)["nwait"] == "1"


def marks(event_id):
    return {name[2:] for name in gate.state(gate.ref(event_id)) if name.startswith("w:")}


def waiting_keys(event_id):
    db.session.expire_all()
    return set(db.session.scalars(select(WaitlistEntry.gate_key).where(WaitlistEntry.event_id == event_id,
                                                                      WaitlistEntry.status == "waiting")))


def after_reading_marks(monkeypatch, action):
    """Run `action(event_id)` in reconcile right after it has read the waiter marks (before its lock)."""
    read_marks = gate.waiter_marks

    def then_act(event):
        seen = read_marks(event)
        action(event.id)
        return seen

    monkeypatch.setattr(gate, "waiter_marks", then_act)


def test_reconcile_drops_stale_marks_but_keeps_joins_in_flight(app_ctx, user):
    event = factories.make_event(capacity=2)
    services.book_seats(user=user, event_id=event.id, quantity=2)
    waiter = services.book_seats(user=factories.make_user(), event_id=event.id, quantity=2).waitlist_entry
    gate.take(event, hold_id="joining", quantity=1)  # a join between Redis and its commit
    key = gate.key(event)
    redis_client.hset(key, "w:ghost", "p")  # an entry that stopped waiting while Redis was unreachable
    redis_client.hincrby(key, "nwait", 1)
    redis_client.hincrby(key, "npart", 1)
    report = reconcile.reconcile_event(event_id=event.id)
    assert (report.waiters_removed, report.waiters_added) == (1, 0)
    assert marks(event.id) == {waiter.gate_key, "joining"}
    assert gate.state(event)["nwait"] == "2"


def test_reconcile_keeps_a_join_that_took_while_it_read_the_marks(app_ctx, user, monkeypatch):
    """The marks are read before the row lock; a join that takes after that read is
    neither in them nor in PostgreSQL, and must keep its mark and its place."""
    event = factories.make_event(capacity=1)
    services.book_seats(user=user, event_id=event.id, quantity=1)
    first = services.book_seats(user=factories.make_user(), event_id=event.id, quantity=1).waitlist_entry
    after_reading_marks(monkeypatch, lambda event_id: gate.take(gate.ref(event_id), hold_id="late", quantity=1))
    report = reconcile.reconcile_event(event_id=event.id)
    assert not report.corrected
    assert marks(event.id) == {first.gate_key, "late"}
    assert gate.state(event)["nwait"] == "2"


def test_reconcile_rebuilds_a_gate_lost_while_it_ran(app_ctx, user, monkeypatch):
    event = factories.make_event(capacity=3)
    services.book_seats(user=user, event_id=event.id, quantity=3)
    waiter = services.book_seats(user=factories.make_user(), event_id=event.id, quantity=3).waitlist_entry
    after_reading_marks(monkeypatch, lambda event_id: redis_client.delete(gate.key(gate.ref(event_id))))
    report = reconcile.reconcile_event(event_id=event.id)
    assert (report.avail_before, report.avail_after, report.waiters_added) == (None, 0, 1)
    assert marks(event.id) == {waiter.gate_key}
    assert gate.state(event)["nwait"] == "1"


@pytest.mark.race
def test_reconcile_racing_a_stream_of_joins_never_loses_or_invents_a_waiter(app, app_ctx, user, monkeypatch):
    """Joins commit (and finish their holds) while reconcile runs again and again:
    every run finds nothing to correct, and the gate ends equal to PostgreSQL.
    Each join pauses between its take and its commit, so most runs meet joins in flight."""
    monkeypatch.setattr(admission, "record", pausing_first(admission.record, 0.02))
    event = factories.make_event(capacity=1)
    services.book_seats(user=user, event_id=event.id, quantity=1)
    buyers = [buyer.id for buyer in factories.make_users(60)]
    reports, done = [], threading.Event()

    def reconcile_until_done():
        with app.app_context():
            while not done.is_set():
                reports.append(reconcile.reconcile_event(event_id=event.id))
            db.session.remove()

    def join(user_ids):
        with app.app_context():
            for user_id in user_ids:
                services.book_seats(user=db.session.get(User, user_id), event_id=event.id, quantity=1)
            db.session.remove()

    reconciler = threading.Thread(target=reconcile_until_done)
    joiners = [threading.Thread(target=join, args=(buyers[i::3],)) for i in range(3)]
    reconciler.start()
    for thread in joiners:
        thread.start()
    for thread in joiners:
        thread.join(120)
    done.set()
    reconciler.join(60)
    assert len(reports) >= 5, "reconcile must have run while the joins did"
    assert [vars(r) for r in reports if r.corrected] == []
    assert marks(event.id) == waiting_keys(event.id) and len(waiting_keys(event.id)) == 60
    assert gate.state(event)["nwait"] == "60"


def test_cli_reconcile_prints_the_report(app):
    runner = app.test_cli_runner()
    with app.app_context():
        event = factories.make_event(capacity=4)
        gate.rebuild(event)
        redis_client.hset(gate.key(event), "avail", 99)
    result = runner.invoke(args=["seats", "reconcile"])
    assert result.exit_code == 0, result.output
    assert "corrected 1" in result.output and "99 -> 4" in result.output


@pytest.mark.parametrize("taken, waiting", [(3, 0), (2, 1), (0, 3)])
def test_a_hold_recorded_before_is_recognised_whichever_write_conflicts(app_ctx, user, taken, waiting):
    """The writes are one statement whose parts run in no fixed order, so the conflict a second
    write of the same hold hits may be the claim's, the booking's hold_id or the entry's
    gate_key: each must read as "this hold was recorded before"."""
    event = factories.make_event(capacity=10)
    row = admission.bookable_event(event.id, quantity=3)
    write = dict(event=row, user_id=user.id, hold_id="recorded", taken=taken, waiting=waiting, queue_seq=1)
    writer.write(**write)
    db.session.commit()
    with pytest.raises(IntegrityError) as raised:
        writer.write(**write)
    db.session.rollback()
    assert writer.conflict(raised.value) == "hold_recorded"
    assert pg_booked(event.id) == taken


def test_guard_rejection_is_corrected_and_retried(app_ctx, user):
    """Redis claims seats that PostgreSQL no longer has: the guard refuses, the
    gate is corrected from PostgreSQL and the request is decided again."""
    event = factories.make_event(capacity=5)
    gate.rebuild(event)
    db.session.execute(text("UPDATE events SET booked_seats = 4 WHERE id = :id"), {"id": event.id})
    db.session.commit()
    result = services.book_seats(user=user, event_id=event.id, quantity=3)
    assert result.booking.quantity == 1
    assert result.waitlist_entry.quantity_remaining == 2
    assert pg_booked(event.id) == 5
    assert avail(event.id) == 0


def taken_reference_first(monkeypatch, taken, times):
    """Booking references are random, so a clash with an existing one cannot be waited
    for: the writer's draw is made to return `taken` for its next `times` draws."""
    draws = [taken] * times
    monkeypatch.setattr(writer, "booking_reference", lambda: draws.pop() if draws else booking_reference())


def confirmations():
    return db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.kind == "booking_confirmed"))


def test_a_booking_reference_already_taken_is_drawn_again(app_ctx, user, monkeypatch):
    event = factories.make_event(capacity=10)
    first = services.book_seats(user=user, event_id=event.id, quantity=1)
    taken_reference_first(monkeypatch, first.booking.reference, times=1)

    second = services.book_seats(user=factories.make_user(), event_id=event.id, quantity=2)

    assert second.booking.quantity == 2 and second.booking.reference != first.booking.reference
    assert pg_booked(event.id) == 3 and avail(event.id) == 7
    assert confirmations() == 2
    assert not [field for field in gate.state(event) if field.startswith("h:")]


def test_a_reference_clash_on_every_attempt_is_a_503_that_changes_nothing(app_ctx, user, monkeypatch):
    event = factories.make_event(capacity=10)
    first = services.book_seats(user=user, event_id=event.id, quantity=1)
    taken_reference_first(monkeypatch, first.booking.reference, times=2)

    with pytest.raises(Unavailable):
        services.book_seats(user=factories.make_user(), event_id=event.id, quantity=2)

    assert pg_booked(event.id) == 1 and avail(event.id) == 9  # the seats went back to sale
    assert confirmations() == 1
    assert not [field for field in gate.state(event) if field.startswith("h:")]


def test_redis_down_makes_booking_a_fast_503_and_reads_fall_back(app):
    with other_app(app, REDIS_URL="redis://127.0.0.1:1/0", REDIS_RETRIES=0) as broken:
        _check_redis_down(app, broken)


def _check_redis_down(app, broken):
    with app.app_context():
        event_id = factories.make_event(capacity=5).id
        user_id = factories.make_user().id
        headers = factories.auth_headers(db.session.get(User, user_id))
    client = broken.test_client()
    started = time.monotonic()
    response = client.post("/api/bookings", json={"eventId": event_id, "quantity": 1}, headers=headers)
    assert time.monotonic() - started < 2
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "UNAVAILABLE"
    assert response.headers["Retry-After"]
    assert client.get("/api/events").status_code == 200  # reads fall back to PostgreSQL
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Booking)) == 0
        assert pg_booked(event_id) == 0
        # the restored gate starts from PostgreSQL's truth
        user = db.session.get(User, user_id)
        assert services.book_seats(user=user, event_id=event_id, quantity=5).booking.quantity == 5
        db.session.remove()


def test_hold_reaped_before_commit_is_a_retryable_503_that_books_nothing(app_ctx, user, monkeypatch):
    """The reaper released this request's hold between its take and its write (the request
    was too slow): the write must not also book the seats the reaper gave back."""
    event = factories.make_event(capacity=5)
    take = gate.take

    def take_then_reaped(event, **kwargs):
        decision = take(event, **kwargs)
        holds.claim_release(event_id=event.id, hold_id=kwargs["hold_id"])
        gate.release(event, hold_id=kwargs["hold_id"])
        return decision

    monkeypatch.setattr(gate, "take", take_then_reaped)
    with pytest.raises(Unavailable, match="took too long"):
        services.book_seats(user=user, event_id=event.id, quantity=2)
    assert pg_booked(event.id) == 0 and avail(event.id) == 5
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 0


def pausing_first(func, seconds):
    """`func`, made to wait first: widens the window between a take and its commit."""
    def paused(*args, **kwargs):
        time.sleep(seconds)
        return func(*args, **kwargs)
    return paused
