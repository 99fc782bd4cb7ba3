"""Serving the waitlist from freed seats: queue order, partial serves, exactly once per seat.

Each step runs under the event's row lock: pick the first waiting entry (in
QUEUE_ORDER) that the free seats can serve, take them through the Redis gate
under a hold id derived from the entry's state, then record the booking through
the one writer, whose hold claim is unique. A duplicate task waits for the lock
and then sees the changed entry; a worker that dies mid-step leaves a hold that
the redelivered task replays (same id) or the reaper returns.

All-or-nothing entries keep their place but are skipped while the free seats
cannot cover them whole; entries behind them that can be served are served,
so freed seats never sit idle while someone could use them.
"""
import logging
from collections import namedtuple
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from evently.common.models import utcnow
from evently.common.tasks import enqueue
from evently.errors import NotFound
from evently.extensions import db
from evently.notifications import outbox
from evently.ops.metrics import GUARD_REJECTIONS, PROMOTIONS, SEATS_TAKEN
from evently.waitlist.models import QUEUE_ORDER, WaitlistEntry, fits

from . import gate, holds, reconcile, writer
from .locking import lock_event

log = logging.getLogger(__name__)
PROMOTE_TASK = "waitlist.promote"
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


EventCopy = namedtuple("EventCopy", "id revision")


class _Retry(Exception):
    """This step lost a race with a release; look again."""


def request_promotion(event_id, seats_freed_at=None):
    """Ask a worker to serve the event's waitlist (call after commit). A broker
    outage only delays it: the periodic reconcile requests it again."""
    freed = (seats_freed_at or utcnow()).isoformat()
    return enqueue(PROMOTE_TASK, event_id, freed)


def promote_waitlist(*, event_id, seats_freed_at=None, max_steps=MAX_STEPS_PER_RUN):
    """Serve the queue until no free seat fits anyone (nobody while it is paused).
    Safe to run twice or concurrently."""
    if isinstance(seats_freed_at, str):
        seats_freed_at = datetime.fromisoformat(seats_freed_at)
    return _serve(event_id, Step(seats_freed_at=seats_freed_at), max_steps)


def promote_by_hand(*, event_id, seats, auditor):
    """An organiser's promotion of up to `seats` free seats, in queue order, paused or not;
    each step is recorded through `auditor` in its own transaction. Exactly once per seat,
    like any promotion. Raises NotFound."""
    if lock_event(event_id) is None:
        db.session.rollback()
        raise NotFound("Event not found.")
    db.session.rollback()
    return _serve(event_id, Step(seats_freed_at=None, by_hand=True, seats_left=seats, auditor=auditor),
                  MAX_STEPS_PER_RUN)


@dataclass
class Step:
    """How a run promotes: on its own (held back while the queue is paused) or by an organiser's hand."""
    seats_freed_at: datetime | None
    by_hand: bool = False
    seats_left: int | None = None  # by hand: the seats still to hand out
    auditor: object = None


def _serve(event_id, step, max_steps):
    report = PromotionReport(event_id=event_id)
    for _step in range(max_steps):
        if step.seats_left == 0:
            return report
        try:
            promotion = _promote_next(event_id, step)
        except _Retry:
            continue
        if promotion is None:
            return report
        report.promotions.append(promotion)
        if step.seats_left is not None:
            step.seats_left -= promotion.quantity
    report.more = True
    return report


def next_entry(event_id, free):
    """The first waiting entry that `free` seats can serve, locked."""
    return db.session.execute(
        select(WaitlistEntry)
        .where(WaitlistEntry.event_id == event_id, WaitlistEntry.status == "waiting", fits(free))
        .order_by(*QUEUE_ORDER).limit(1)
        .with_for_update().execution_options(populate_existing=True)
    ).scalar_one_or_none()


def promotion_hold_id(entry):
    """Deterministic for the entry's current state, so a redelivered task replays
    the same hold; a new suffix only after an earlier attempt was released."""
    base = f"promo-{entry.id}-{entry.quantity_remaining}"
    attempt = 0
    while holds.outcome(f"{base}-{attempt}") == "released":
        attempt += 1
    return f"{base}-{attempt}"


def _interrupted_step(event):
    """A promotion hold left in Redis by a worker that died before committing.
    If its entry is unchanged, the step is resumed under the same hold id (the
    take replays: no second take); a hold whose step is settled is cleared."""
    for hold_id in gate.holds(event):
        if not hold_id.startswith("promo-"):
            continue
        _prefix, entry_id, remaining, _attempt = hold_id.split("-")
        outcome = holds.outcome(hold_id)
        if outcome == "committed":
            holds.finish_hold(event, hold_id=hold_id)
            continue
        entry = db.session.execute(
            select(WaitlistEntry).where(WaitlistEntry.id == int(entry_id), WaitlistEntry.status == "waiting")
            .with_for_update().execution_options(populate_existing=True)
        ).scalar_one_or_none()
        if outcome is None and entry is not None and entry.quantity_remaining == int(remaining):
            return entry, hold_id
        # Released by the reaper, or its entry moved on: the held seats belong to nobody.
        gate.release(event, hold_id=hold_id)
    return None


def _promote_next(event_id, step):
    event = lock_event(event_id)
    if (event is None or event.status != "published" or event.starts_at <= utcnow()
            or (event.waitlist_paused and not step.by_hand)):
        db.session.rollback()
        return None
    interrupted = _interrupted_step(event)
    if interrupted is not None:
        entry, hold_id = interrupted
    else:
        free = gate.free_seats(event)
        if step.seats_left is not None:
            free = min(free, step.seats_left)
        entry = next_entry(event_id, free) if free > 0 else None
        if entry is None:
            db.session.rollback()
            return None
        hold_id = promotion_hold_id(entry)
    wanted = entry.quantity_remaining if step.seats_left is None else min(entry.quantity_remaining, step.seats_left)
    decision = gate.take(event, hold_id=hold_id, quantity=wanted, mode="promote",
                         allow_partial=entry.allow_partial, join_waitlist=False)
    if decision.taken == 0:
        db.session.rollback()
        return None
    served = writer.Served(entry_id=entry.id, remaining=entry.quantity_remaining - decision.taken,
                           seats_freed_at=step.seats_freed_at)
    # Plain values: the commit or a rollback below expires `event` and `entry`.
    ref, entry_key = gate.EventRef(event.id, event.gate_token), entry.gate_key
    event_copy = EventCopy(event.id, event.revision)
    try:
        written = writer.write(event=event, user_id=entry.user_id, hold_id=hold_id, taken=decision.taken,
                               served=served)
        if step.auditor is not None:
            step.auditor.record(action="waitlist.promote", subject_type="waitlist_entry", subject_id=entry.id,
                                event_id=event_id, before={"quantityWaiting": entry.quantity_remaining},
                                after={"quantityWaiting": served.remaining, "bookingId": written.booking.id,
                                       "seats": decision.taken})
        outbox.deliver_after_commit(written.notification_id)
        db.session.commit()
    except IntegrityError as error:
        db.session.rollback()
        _settle_conflict(error, ref, hold_id, decision)
        raise _Retry() from None
    except writer.EntryChanged:  # served meanwhile by a run that did not wait for our lock
        db.session.rollback()
        holds.release_hold(ref, hold_id=hold_id)
        raise _Retry() from None
    except writer.GuardRejected:
        db.session.rollback()
        holds.release_hold(ref, hold_id=hold_id)
        if writer.refusal(event_copy) is None:  # capacity, not a closed or changed event: the gate was wrong
            GUARD_REJECTIONS.inc()
            reconcile.reconcile_event(ref.id)
        db.session.rollback()
        return None
    except BaseException:
        db.session.rollback()
        holds.release_hold(ref, hold_id=hold_id)
        raise
    holds.finish_hold(ref, hold_id=hold_id)
    if served.remaining == 0:
        gate.tolerating_redis_down(gate.unwait, ref, entry_key=entry_key)
    PROMOTIONS.inc(decision.taken)
    SEATS_TAKEN.labels("waitlist").inc(decision.taken)
    return Promotion(entry_id=served.entry_id, booking_id=written.booking.id, quantity=decision.taken)


def _settle_conflict(error, ref, hold_id, decision):
    if writer.conflict(error) != "hold_recorded":
        raise error
    outcome = holds.outcome(hold_id)
    db.session.rollback()
    if outcome == "committed" and decision.status == "REPLAY":
        holds.finish_hold(ref, hold_id=hold_id)
    else:
        # Seats this attempt holds in Redis belong to nobody: give them back.
        gate.release(ref, hold_id=hold_id)
