"""Reconciliation: return expired holds, make each gate agree with PostgreSQL exactly, drop stale gates."""
import logging
import time
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import select

from evently.common.models import utcnow
from evently.events.models import Event
from evently.extensions import db, redis_client
from evently.ops.metrics import HOLDS_REAPED, RECONCILE_CORRECTIONS

from . import gate, holds
from .locking import lock_event
from .models import SeatHold

log = logging.getLogger(__name__)


@dataclass
class EventReport:
    event_id: int
    reaped_holds: int = 0
    reaped_seats: int = 0
    avail_before: int | None = None
    avail_after: int | None = None
    waiters_added: int = 0
    waiters_removed: int = 0
    holds_dropped: int = 0

    @property
    def corrected(self):
        return bool(self.reaped_holds or self.waiters_added or self.waiters_removed
                    or self.avail_before != self.avail_after)


@dataclass
class Report:
    events: list = field(default_factory=list)
    stale_gates: int = 0  # gates of another database or an earlier incarnation, deleted

    @property
    def corrections(self):
        return [event for event in self.events if event.corrected]

    def summary(self):
        lines = [f"reconciled {len(self.events)} events, corrected {len(self.corrections)}, "
                 f"stale gates dropped {self.stale_gates}"]
        for event in self.corrections:
            lines.append(
                f"  event {event.event_id}: available {event.avail_before} -> {event.avail_after}, "
                f"holds returned {event.reaped_holds} ({event.reaped_seats} seats), "
                f"waiters +{event.waiters_added}/-{event.waiters_removed}"
            )
        return "\n".join(lines)

    def as_dict(self):
        return {"events": len(self.events), "staleGates": self.stale_gates,
                "corrected": [vars(event) for event in self.corrections]}


def reap_expired_holds(*, event_id, ttl_seconds=None):
    """Give back the seats of holds older than the TTL whose request died before
    committing. The release claim in PostgreSQL makes this exact: a hold whose
    booking is committing (or committed) is never returned."""
    ref = gate.ref(event_id)
    db.session.rollback()
    if ref is None:
        return 0, 0
    ttl = current_app.config["HOLD_TTL_SECONDS"] if ttl_seconds is None else ttl_seconds
    cutoff = time.time() - ttl
    reaped = seats = 0
    for hold_id, (_taken, _waitlisted, created) in gate.holds(ref).items():
        if created > cutoff:
            continue
        if holds.claim_release(event_id=event_id, hold_id=hold_id):
            seats += gate.release(ref, hold_id=hold_id)
            reaped += 1
    if reaped:
        HOLDS_REAPED.inc(reaped)
    return reaped, seats


def reconcile_event(event_id, *, ttl_seconds=None):
    """Reap expired holds, then correct the event's gate from PostgreSQL under its row lock.

    The row lock serialises this with every commit that touches the event (see
    locking.py): while it is held, no waiting entry starts or stops waiting and no
    hold is resolved; only takes run, adding holds that fix.lua sees. The O(queue)
    parts are kept out of Redis's single thread (HSCANs, the comparison here in
    Python) and the marks are read before the lock (why that is safe: fix.lua drops
    a mark only if its entry does not wait now and its hold is not in flight)."""
    report = EventReport(event_id=event_id)
    report.reaped_holds, report.reaped_seats = reap_expired_holds(event_id=event_id, ttl_seconds=ttl_seconds)
    ref = gate.ref(event_id)
    if ref is None:
        db.session.rollback()
        return report
    marks = gate.waiter_marks(ref)
    event = lock_event(event_id)
    if event is None or event.status == "cancelled":
        gate.close(ref)  # a cancelled event sells nothing; its job cancels the rest
        db.session.rollback()
        return report
    hold_ids = list(gate.holds(ref))
    resolved = db.session.scalars(select(SeatHold.hold_id).where(SeatHold.hold_id.in_(hold_ids))).all() \
        if hold_ids else []
    waiting = gate.waiting_entries(event_id)
    free = event.capacity - event.booked_seats
    drop = [key for key in marks if key not in waiting.marks]
    set_marks = {key: value for key, value in waiting.marks.items() if marks.get(key) != value}
    fixed = gate.fix(ref, free=free, paused=event.waitlist_paused, waiting=waiting, resolved=resolved, drop=drop,
                     set_marks=set_marks)
    if fixed is None:  # no gate (Redis lost it): build it whole, still under the lock
        gate.build(ref, free=free, paused=event.waitlist_paused, waiting=waiting)
        fixed = [None, free, len(waiting.marks), 0, 0]
    db.session.commit()
    report.avail_before, report.avail_after, report.waiters_added, report.waiters_removed, \
        report.holds_dropped = fixed
    _count(report)
    if report.corrected:
        log.warning("seat gate corrected: %s", vars(report))
    return report


def _count(report):
    if report.avail_before is None:
        RECONCILE_CORRECTIONS.labels("rebuild").inc()
    elif report.avail_before != report.avail_after:
        RECONCILE_CORRECTIONS.labels("available").inc()
    if report.waiters_added or report.waiters_removed:
        RECONCILE_CORRECTIONS.labels("waiters").inc()
    if report.reaped_holds:
        RECONCILE_CORRECTIONS.labels("expired_hold").inc(report.reaped_holds)


def drop_stale_gates():
    """Delete every gate whose event does not exist here or has another incarnation (a restored
    or re-created database, an earlier event with the same id); returns the live gates' event ids."""
    found = gate.gate_keys()
    ids = {event_id for event_id, _token in found.values()}
    tokens = dict(db.session.execute(select(Event.id, Event.gate_token).where(Event.id.in_(ids))).all()) \
        if ids else {}
    db.session.rollback()
    stale = [key for key, (event_id, token) in found.items() if tokens.get(event_id) != token]
    if stale:
        redis_client.delete(*stale)
        RECONCILE_CORRECTIONS.labels("stale_gate").inc(len(stale))
    return {event_id for event_id, token in found.values() if tokens.get(event_id) == token}, len(stale)


def events_to_reconcile():
    """Every event with a live gate in Redis, plus every published event not yet over; stale gates dropped."""
    live, stale = drop_stale_gates()
    ids = live | set(db.session.scalars(
        select(Event.id).where(Event.status == "published", Event.ends_at > utcnow())
    ).all())
    db.session.rollback()
    return sorted(ids), stale


def reconcile_all(*, ttl_seconds=None):
    ids, stale = events_to_reconcile()
    report = Report(stale_gates=stale)
    for event_id in ids:
        report.events.append(reconcile_event(event_id, ttl_seconds=ttl_seconds))
    return report
