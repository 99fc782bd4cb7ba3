"""Admission: a booking or waitlist request, decided and recorded exactly once.

The gated strategy (the default): the Redis gate decides in one Lua call how many
seats the request takes and whether the rest waits (take), one PostgreSQL
statement records that outcome under a fresh hold id and guards capacity and the
event's state (write), then the hold is settled: finished after the commit,
released after any failure (settle). The strategy is resolved once per app at
start-up (BOOKING_STRATEGY, see evently/seats/__init__.py); evently/seats/rowlock.py is the other one.
"""
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import bindparam, select, text
from sqlalchemy.exc import IntegrityError

from evently.bookings.models import Booking
from evently.common.models import utcnow
from evently.common.ttl_cache import LockedTTLCache
from evently.errors import (AlreadyWaitlisted, EventNotBookable, EventStarted, NotFound, PerUserLimit, SeatsAvailable,
                            SoldOut, Unavailable, ValidationError)
from evently.events.models import Event
from evently.extensions import db
from evently.notifications import outbox
from evently.ops.metrics import BOOKINGS, GUARD_REJECTIONS, SEATS_TAKEN
from evently.waitlist.models import WaitlistEntry, live_position

from . import gate, holds, promotion, reconcile, writer

EXTENSION = "evently.admission"


@dataclass
class Admission:
    """What a request got: a booking, a waitlist entry for the rest, or both."""
    booking: Booking | None
    waitlist_entry: WaitlistEntry | None
    requested: int


class ReferenceTaken(Unavailable):
    """The random booking reference drawn for this write already exists (about one write in a
    million at a million bookings). The gated path writes again under the same hold (the gate
    replays its decision); a second clash is a 503 to retry."""

    def __init__(self):
        super().__init__("The booking could not be recorded; please retry.")


class HoldExpired(Unavailable):
    """The reaper returned this request's hold before it could commit."""

    def __init__(self):
        super().__init__("The request took too long and its seats were released; please retry.")


# What a booking decision reads of the event, as plain columns from one prebuilt Core
# statement run on the session's connection (the same transaction): an ORM load here
# would cost more than the rest of the read.
_EVENTS = Event.__table__.c
_BOOKABLE_COLUMNS = select(_EVENTS.id, _EVENTS.gate_token, _EVENTS.revision, _EVENTS.title, _EVENTS.status,
                           _EVENTS.starts_at, _EVENTS.capacity, _EVENTS.max_per_booking, _EVENTS.max_per_user,
                           _EVENTS.price, _EVENTS.currency, _EVENTS.timezone
                           ).where(_EVENTS.id == bindparam("event_id"))
EVENT_CACHE = "evently.bookable_events"


def init_event_cache(app):
    """Each process keeps what a booking reads of an event for EVENT_CACHE_SECONDS: a flash
    sale's bookings then read no event row at all. A copy can be that old, so every write
    checks the event's revision under the row lock (writer.py) and a changed event is read
    again and decided anew; only answers that write nothing (a 400 for too many seats, a 404
    just after publishing) can reflect an event up to that old."""
    seconds = app.config["EVENT_CACHE_SECONDS"]
    app.extensions[EVENT_CACHE] = LockedTTLCache(seconds=seconds, max_entries=10_000) if seconds > 0 else None


def _event_copy(event_id):
    cache = current_app.extensions.get(EVENT_CACHE)
    event = cache.get(event_id) if cache is not None else None
    if event is None:
        event = db.session.connection().execute(_BOOKABLE_COLUMNS, {"event_id": event_id}).first()
        if event is not None and cache is not None:
            cache.put(event_id, event)
    return event


def forget_event(event_id):
    """Drop this process's copy of an event (it changed)."""
    cache = current_app.extensions.get(EVENT_CACHE)
    if cache is not None:
        cache.forget(event_id)


def bookable_event(event_id, *, quantity):
    """The event's booking columns if `quantity` can be asked of it now. Raises NotFound,
    EventNotBookable, EventStarted, ValidationError (over the per-booking limit or the capacity)."""
    event = _event_copy(event_id)
    if event is None or event.status == "draft":
        raise NotFound("Event not found.")
    if event.status != "published":
        raise EventNotBookable("This event is cancelled.")
    if event.starts_at <= utcnow():
        raise EventStarted()
    if quantity > event.max_per_booking:
        raise ValidationError(details={"quantity": [f"At most {event.max_per_booking} tickets per booking."]})
    if quantity > event.capacity:
        # Nobody's entry may wait for seats that can never exist.
        raise ValidationError(details={"quantity": [f"This event has {event.capacity} seats in all."]})
    return event


def admit(*, user_id, event_id, quantity, allow_partial=True, join_waitlist=True, mode="direct",
          on_recorded=None):
    """Decide and record one request. mode `direct` books what is free and (if wanted)
    queues the rest; mode `waitlist` only queues. `on_recorded(admission)` runs inside
    the recording transaction, before its commit (the idempotency record is written
    there, so a key and its outcome commit together). Raises NotFound, EventNotBookable,
    EventStarted, ValidationError, SeatsAvailable, SoldOut, AlreadyWaitlisted, Unavailable."""
    # A read transaction stays open across the Redis call and becomes the write transaction:
    # having only read (READ COMMITTED), it holds no row locks, so it blocks nobody.
    strategy = current_app.extensions[EXTENSION]
    for _attempt in range(2):
        event = bookable_event(event_id, quantity=quantity)
        within_per_user_cap(event, user_id=user_id, adding=quantity)  # early, before any seat is taken
        try:
            return strategy.admit(user_id=user_id, event=event, quantity=quantity, allow_partial=allow_partial,
                                  join_waitlist=join_waitlist, mode=mode, on_recorded=on_recorded)
        except writer.EventChanged:
            forget_event(event_id)  # an admin changed it since this copy: read it again, decide again
    raise Unavailable("The event is being changed; please retry.")


class GatedAdmission:
    """take (Redis) -> write (PostgreSQL) -> settle; see the module docstring."""

    def admit(self, *, user_id, event, quantity, allow_partial, join_waitlist, mode, on_recorded):
        hold_id = holds.new_hold_id()
        for attempt in range(2):
            decision = gate.take(event, hold_id=hold_id, quantity=quantity, mode=mode,
                                 allow_partial=allow_partial, join_waitlist=join_waitlist)
            refuse_if_nothing(decision, event=event)
            try:
                admission = record(event=event, user_id=user_id, hold_id=hold_id, requested=quantity,
                                   decision=decision, allow_partial=allow_partial, on_recorded=on_recorded)
            except writer.GuardRejected:
                holds.release_hold(event, hold_id=hold_id)
                closed = writer.refusal(event)
                db.session.rollback()
                if closed is not None:
                    raise closed from None
                GUARD_REJECTIONS.inc()
                correct_gate(event)
                hold_id = holds.new_hold_id()
                continue
            except ReferenceTaken:
                if attempt == 0:
                    continue  # same hold id: the gate replays this decision, the write draws a new reference
                holds.release_hold(event, hold_id=hold_id)
                raise
            except HoldExpired:
                raise
            except BaseException:
                holds.release_hold(event, hold_id=hold_id)
                raise
            holds.finish_soon(event, hold_id=hold_id)
            settled(admission, decision.serve, event_id=event.id)
            return admission
        raise Unavailable("Seat availability is being corrected; please retry.")


def refuse_if_nothing(decision, *, event):
    """Raise what a decision that records nothing answers: SeatsAvailable, SoldOut, or why the event is closed."""
    if decision.status == "CLOSED":
        raise writer.refusal(event) or EventNotBookable()
    if decision.status == "SEATS_AVAILABLE":
        raise SeatsAvailable(details={"availableSeats": decision.available})
    if decision.taken == 0 and not decision.waitlisted:
        BOOKINGS.labels("sold_out").inc()
        raise SoldOut()


def record(*, event, user_id, hold_id, requested, decision, allow_partial, on_recorded):
    """One transaction: the writer's statement, the caller's hook, COMMIT. Rolls back and
    raises on any failure; an IntegrityError is translated (see writer.CONFLICTS)."""
    waiting = requested - decision.taken if decision.waitlisted else 0
    try:
        within_per_user_cap(event, user_id=user_id, adding=decision.taken + waiting, locked=True)
        written = writer.write(event=event, user_id=user_id, hold_id=hold_id, taken=decision.taken,
                               waiting=waiting, allow_partial=allow_partial, queue_seq=decision.queue_seq,
                               position=decision.position)
        admission = Admission(booking=written.booking, waitlist_entry=written.entry, requested=requested)
        if written.entry is not None and written.entry.position is None:
            written.entry.position = position_of(written.entry.id)
        if on_recorded is not None:
            on_recorded(admission)
        if written.notification_id is not None:
            outbox.deliver_after_commit(written.notification_id)
        db.session.commit()
    except IntegrityError as error:
        db.session.rollback()
        raise translated(error) from None
    except BaseException:
        db.session.rollback()
        raise
    return admission


# A user's seats for an event: confirmed plus still waited for.
_HOLDINGS = text("""
    SELECT (SELECT COALESCE(sum(quantity), 0) FROM bookings
            WHERE event_id = :event_id AND user_id = :user_id AND status = 'confirmed')
         + (SELECT COALESCE(sum(quantity_remaining), 0) FROM waitlist_entries
            WHERE event_id = :event_id AND user_id = :user_id AND status = 'waiting')""")
_LOCK_USER_ON_EVENT = text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))")


def within_per_user_cap(event, *, user_id, adding, locked=False):
    """Refuse what would give the user more than the event's max_per_user seats (confirmed
    plus waiting). With `locked`, the check holds a lock on (event, user) until the caller's
    transaction ends, so one user's concurrent requests are counted one after the other.
    Raises PerUserLimit."""
    if event.max_per_user is None:
        return
    params = {"event_id": event.id, "user_id": user_id}
    if locked:
        db.session.execute(_LOCK_USER_ON_EVENT, {"name": f"evently:per-user:{event.id}:{user_id}"})
    held = db.session.execute(_HOLDINGS, params).scalar()
    if held + adding > event.max_per_user:
        raise PerUserLimit(f"One person may hold at most {event.max_per_user} seats for this event, "
                           f"waitlist included; you hold {held}.",
                           details={"maxPerUser": event.max_per_user, "held": held, "requested": adding})


def position_of(entry_id):
    """An entry's live place, counted in PostgreSQL (for the strategy that has no gate to number joins)."""
    return db.session.scalar(select(live_position()).where(WaitlistEntry.id == entry_id))


def translated(error):
    meaning = writer.conflict(error)
    if meaning == "already_waitlisted":
        return AlreadyWaitlisted()
    if meaning == "over_capacity":
        return writer.GuardRejected()
    if meaning == "reference_taken":
        return ReferenceTaken()
    if meaning == "hold_recorded":
        # Every execution draws a fresh hold id, so its hold can only have been recorded as released.
        return HoldExpired()
    if meaning == "event_gone":
        return NotFound("Event not found.")
    return error


def settled(admission, serve, *, event_id):
    """After the commit: count it, and hand free seats next to waiters to a promotion."""
    if admission.booking is not None:
        SEATS_TAKEN.labels("direct").inc(admission.booking.quantity)
    BOOKINGS.labels("booked" if admission.booking else "waitlisted").inc()
    if serve:
        promotion.request_promotion(event_id)


def correct_gate(event):
    """Redis admitted seats PostgreSQL refused: make the gate agree before deciding again.
    A failure here is left to the periodic reconcile; the request still gets an answer."""
    try:
        reconcile.reconcile_event(event.id)
    except Exception:  # noqa: BLE001 - the periodic reconcile retries; the client gets a retryable answer
        db.session.rollback()
        current_app.logger.exception("could not reconcile event %s after a guard rejection", event.id)
