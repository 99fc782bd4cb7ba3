"""Serving the waitlist from freed seats: FIFO, partial serves, exactly once per seat.

Each step runs under the event's row lock: pick the first waiting entry that
the free seats can serve, take them through the Redis gate under a hold id
derived from the entry's state, then record the booking in one transaction
whose hold claim is unique. A duplicate task waits for the lock and then sees
the changed entry; a worker that dies mid-step leaves a hold that the
redelivered task replays (same id) or the reaper returns.

All-or-nothing entries keep their place but are skipped while the free seats
cannot cover them whole; entries behind them that can be served are served,
so freed seats never sit idle while someone could use them.
"""
import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from evently.bookings.models import Booking
from evently.common import faults
from evently.common.ids import booking_reference
from evently.common.models import utcnow
from evently.events.models import Event
from evently.extensions import db
from evently.notifications import outbox
from evently.ops.metrics import GUARD_REJECTIONS, PROMOTIONS, SEATS_TAKEN
from evently.seats import gate, holds
from evently.seats.models import SeatHold

from .models import WaitlistEntry

log = logging.getLogger(__name__)
MAX_STEPS_PER_RUN = 200


@dataclass
class Promotion:
    entry_id: int
    booking_id: int
    quantity: int


@dataclass
class PromotionReport:
    event_id: int
    promotions: list = field(default_factory=list)
    more: bool = False

    @property
    def seats(self):
        return sum(promotion.quantity for promotion in self.promotions)

    def as_dict(self):
        return {"eventId": self.event_id, "promoted": len(self.promotions), "seats": self.seats, "more": self.more}


class _Retry(Exception):
    """This step lost a race with a release; look again."""


def request_promotion(event_id, seats_freed_at=None):
    """Ask a worker to serve the event's waitlist (call after commit). A broker
    outage only delays it: the periodic reconcile requests it again."""
    from evently.common.tasks import enqueue
    from evently.waitlist.tasks import promote_waitlist_task

    freed = (seats_freed_at or utcnow()).isoformat()
    return enqueue(promote_waitlist_task, event_id, freed)


def promote_waitlist(*, event_id, seats_freed_at=None, max_steps=MAX_STEPS_PER_RUN):
    """Serve the queue until no free seat fits anyone. Safe to run twice or concurrently."""
    if isinstance(seats_freed_at, str):
        seats_freed_at = datetime.fromisoformat(seats_freed_at)
    report = PromotionReport(event_id=event_id)
    for _step in range(max_steps):
        try:
            promotion = _promote_next(event_id, seats_freed_at)
        except _Retry:
            continue
        if promotion is None:
            return report
        report.promotions.append(promotion)
    report.more = True
    return report


def _exactly_once():
    """False only in the negative-control test that proves the lock and key matter."""
    return not faults.enabled("UNSAFE_NO_PROMOTION_KEY")


def _locked(query):
    query = query.execution_options(populate_existing=True)
    return query.with_for_update() if _exactly_once() else query


def _locked_event(event_id):
    return db.session.execute(_locked(select(Event).where(Event.id == event_id))).scalar_one_or_none()


def _next_entry(event_id, free):
    return db.session.execute(_locked(
        select(WaitlistEntry)
        .where(WaitlistEntry.event_id == event_id, WaitlistEntry.status == "waiting",
               or_(WaitlistEntry.allow_partial, WaitlistEntry.quantity_remaining <= free))
        .order_by(WaitlistEntry.id).limit(1)
    )).scalar_one_or_none()


def promotion_hold_id(entry):
    """Deterministic for the entry's current state, so a redelivered task replays
    the same hold; a new suffix only after an earlier attempt was released."""
    base = f"promo-{entry.id}-{entry.quantity_remaining}"
    attempt = 0
    while db.session.scalar(select(SeatHold.outcome).where(SeatHold.hold_id == f"{base}-{attempt}")) == "released":
        attempt += 1
    return f"{base}-{attempt}"


def _interrupted_step(event_id):
    """A promotion hold left in Redis by a worker that died before committing.
    If its entry is unchanged, the step is resumed under the same hold id (the
    take replays: no second take); a hold whose step is settled is cleared."""
    for hold_id in gate.holds(event_id=event_id):
        if not hold_id.startswith("promo-"):
            continue
        _prefix, entry_id, remaining, _attempt = hold_id.split("-")
        outcome = db.session.scalar(select(SeatHold.outcome).where(SeatHold.hold_id == hold_id))
        if outcome == "committed":
            holds.finish_hold(event_id=event_id, hold_id=hold_id)
            continue
        entry = db.session.execute(
            select(WaitlistEntry).where(WaitlistEntry.id == int(entry_id), WaitlistEntry.status == "waiting")
            .with_for_update().execution_options(populate_existing=True)
        ).scalar_one_or_none()
        if outcome is None and entry is not None and entry.quantity_remaining == int(remaining):
            return entry, hold_id
        # Released by the reaper, or its entry moved on: the held seats belong to nobody.
        gate.release(event_id=event_id, hold_id=hold_id)
    return None


def _promote_next(event_id, seats_freed_at):
    event = _locked_event(event_id)
    if event is None or event.status != "published" or event.starts_at <= utcnow():
        db.session.rollback()
        return None
    interrupted = _interrupted_step(event_id)
    if interrupted is not None:
        entry, hold_id = interrupted
    else:
        free = gate.free_seats(event_id=event_id)
        if free <= 0:
            db.session.rollback()
            return None
        entry = _next_entry(event_id, free)
        if entry is None:
            db.session.rollback()
            return None
        hold_id = promotion_hold_id(entry) if _exactly_once() else holds.new_hold_id()
    decision = gate.take(event_id=event_id, hold_id=hold_id, quantity=entry.quantity_remaining, mode="promote",
                         allow_partial=entry.allow_partial, join_waitlist=False)
    if decision.taken == 0:
        db.session.rollback()
        return None
    faults.pause("PROMOTION_TEST_PAUSE_SECONDS")
    try:
        booking = _record_promotion(event, entry, hold_id, decision.taken, seats_freed_at)
    except IntegrityError as error:
        db.session.rollback()
        _settle_conflict(error, event_id, hold_id, decision)
        raise _Retry() from None
    except _GuardRejected:
        db.session.rollback()
        GUARD_REJECTIONS.inc()
        holds.release_hold(event_id=event_id, hold_id=hold_id)
        from evently.seats import reconcile

        reconcile.reconcile_event(event_id=event_id)
        return None
    except Exception:
        db.session.rollback()
        holds.release_hold(event_id=event_id, hold_id=hold_id)
        raise
    holds.finish_hold(event_id=event_id, hold_id=hold_id)
    if entry.status == "served":
        gate.unwait_quietly(event_id=event_id, entry_key=entry.gate_key)
    PROMOTIONS.inc(decision.taken)
    SEATS_TAKEN.labels("waitlist").inc(decision.taken)
    return Promotion(entry_id=entry.id, booking_id=booking.id, quantity=decision.taken)


class _GuardRejected(Exception):
    pass


def _record_promotion(event, entry, hold_id, taken, seats_freed_at):
    if _exactly_once():
        db.session.add(holds.committed_claim(event_id=event.id, hold_id=hold_id))
    booking = Booking(reference=booking_reference(), user_id=entry.user_id, event_id=event.id, quantity=taken,
                      unit_price=event.price, total_amount=event.price * taken, currency=event.currency,
                      source="waitlist", hold_id=hold_id, waitlist_entry_id=entry.id,
                      seats_freed_at=seats_freed_at)
    db.session.add(booking)
    entry.quantity_remaining -= taken
    if entry.quantity_remaining == 0:
        entry.status = "served"
    db.session.flush()
    outbox.waitlist_promoted(booking, event, entry)
    if event.booked_seats + taken > event.capacity:
        raise _GuardRejected()
    event.booked_seats += taken  # we hold the row lock; the CHECK constraint backs this up
    db.session.commit()
    return booking


def _settle_conflict(error, event_id, hold_id, decision):
    constraint = getattr(getattr(error.orig, "diag", None), "constraint_name", None)
    if constraint != "pk_seat_holds":
        raise error
    outcome = db.session.scalar(select(SeatHold.outcome).where(SeatHold.hold_id == hold_id))
    db.session.rollback()
    if outcome == "committed" and decision.status == "REPLAY":
        holds.finish_hold(event_id=event_id, hold_id=hold_id)
    else:
        # Seats this attempt holds in Redis belong to nobody: give them back.
        gate.release(event_id=event_id, hold_id=hold_id)
