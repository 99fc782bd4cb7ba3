"""Reconciliation: return expired holds and make each gate agree with PostgreSQL exactly."""
import logging
import time
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import bindparam, select

from evently.common.models import utcnow
from evently.events.models import Event
from evently.extensions import db, redis_client
from evently.ops.metrics import HOLDS_REAPED, RECONCILE_CORRECTIONS
from evently.waitlist.models import WaitlistEntry

from . import gate, holds
from .models import SeatHold

log = logging.getLogger(__name__)


# Core statements built once, run on the session's connection: reconcile reads up
# to a whole queue of keys, and ORM rows cost it half again as much.
_EVENTS, _ENTRIES, _HOLDS = Event.__table__, WaitlistEntry.__table__, SeatHold.__table__
_LOCK_SEATS = (select(_EVENTS.c.capacity, _EVENTS.c.booked_seats)
               .where(_EVENTS.c.id == bindparam("event_id")).with_for_update())
_RESOLVED = select(_HOLDS.c.hold_id).where(_HOLDS.c.hold_id.in_(bindparam("hold_ids", expanding=True)))
_WAITING_KEYS = select(_ENTRIES.c.gate_key).where(_ENTRIES.c.event_id == bindparam("event_id"),
                                                  _ENTRIES.c.status == "waiting")


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

    @property
    def corrections(self):
        return [event for event in self.events if event.corrected]

    def summary(self):
        lines = [f"reconciled {len(self.events)} events, corrected {len(self.corrections)}"]
        for event in self.corrections:
            lines.append(
                f"  event {event.event_id}: available {event.avail_before} -> {event.avail_after}, "
                f"holds returned {event.reaped_holds} ({event.reaped_seats} seats), "
                f"waiters +{event.waiters_added}/-{event.waiters_removed}"
            )
        return "\n".join(lines)

    def as_dict(self):
        return {"events": len(self.events), "corrected": [vars(event) for event in self.corrections]}


def reap_expired_holds(*, event_id, ttl_seconds=None):
    """Give back the seats of holds older than the TTL whose request died before
    committing. The release claim in PostgreSQL makes this exact: a hold whose
    booking is committing (or committed) is never returned."""
    ttl = current_app.config["HOLD_TTL_SECONDS"] if ttl_seconds is None else ttl_seconds
    cutoff = time.time() - ttl
    reaped = seats = 0
    for hold_id, (taken, _waitlisted, created) in gate.holds(event_id=event_id).items():
        if created > cutoff:
            continue
        if holds.claim_release(event_id=event_id, hold_id=hold_id):
            seats += gate.release(event_id=event_id, hold_id=hold_id)
            reaped += 1
    if reaped:
        HOLDS_REAPED.inc(reaped)
    return reaped, seats


def reconcile_event(*, event_id, ttl_seconds=None):
    """Reap expired holds, then correct the event's gate from PostgreSQL under its row lock.

    The row lock (FOR UPDATE) serialises this with every commit that touches the
    event: bookings and promotions update its booked seats, and every join or
    release inserts a row whose foreign key takes a share lock on it. So while it
    is held, no waiting entry starts or stops waiting and no hold is resolved;
    only takes run, adding holds that fix.lua sees. The O(queue) parts are kept
    out of Redis's single thread (HSCANs, the comparison here in Python) and the
    marks are read before the lock (why that is safe: fix.lua drops a mark only if
    its entry does not wait now and its hold is not in flight)."""
    report = EventReport(event_id=event_id)
    report.reaped_holds, report.reaped_seats = reap_expired_holds(event_id=event_id, ttl_seconds=ttl_seconds)

    marks = gate.waiter_marks(event_id=event_id)
    connection = db.session.connection()
    seats = connection.execute(_LOCK_SEATS, {"event_id": event_id}).first()
    if seats is None:
        db.session.rollback()
        gate.forget_event(event_id=event_id)
        return report
    hold_ids = list(gate.holds(event_id=event_id))
    resolved = connection.execute(_RESOLVED, {"hold_ids": hold_ids}).scalars().all() if hold_ids else []
    waiting = set(connection.execute(_WAITING_KEYS, {"event_id": event_id}).scalars())
    free = seats.capacity - seats.booked_seats
    drop, add = marks - waiting, waiting - marks
    fixed = gate.script("fix")(keys=[gate.gate_key(event_id)],
                               args=[free, len(resolved), len(drop), *resolved, *drop, *add])
    if int(fixed[0]) == -1:  # no gate (Redis lost it): build it whole, still under the lock
        gate.script("init")(keys=[gate.gate_key(event_id)], args=[free, *waiting])
        fixed = [None, free, len(waiting), 0, 0]
    db.session.commit()
    before, after, added, removed, dropped = fixed
    report.avail_before = None if before is None else int(before)
    report.avail_after = int(after)
    report.waiters_added, report.waiters_removed, report.holds_dropped = int(added), int(removed), int(dropped)
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


def events_to_reconcile():
    """Every event with a gate in Redis, plus every published event not yet over."""
    ids = set()
    for key in redis_client.scan_iter(match="evently:{event:*}", count=1000):
        if key.endswith("}"):
            ids.add(int(key[len("evently:{event:"):-1]))
    ids.update(db.session.scalars(
        select(Event.id).where(Event.status == "published", Event.ends_at > utcnow())
    ).all())
    db.session.rollback()
    return sorted(ids)


def reconcile_all(*, ttl_seconds=None):
    report = Report()
    for event_id in events_to_reconcile():
        report.events.append(reconcile_event(event_id=event_id, ttl_seconds=ttl_seconds))
    return report
