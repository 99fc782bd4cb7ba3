"""Reconciliation: return expired holds and make each gate agree with PostgreSQL exactly."""
import logging
import time
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import select

from evently.common.models import utcnow
from evently.extensions import db, redis_client
from evently.ops.metrics import HOLDS_REAPED, RECONCILE_CORRECTIONS

from . import gate, holds
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
    """Reap expired holds, then correct the event's gate from PostgreSQL under its row lock."""
    from evently.events.models import Event
    from evently.waitlist.models import WaitlistEntry

    report = EventReport(event_id=event_id)
    report.reaped_holds, report.reaped_seats = reap_expired_holds(event_id=event_id, ttl_seconds=ttl_seconds)

    # The row lock serialises us with every commit that changes booked seats.
    event = db.session.execute(select(Event).where(Event.id == event_id).with_for_update().execution_options(populate_existing=True)).scalar_one_or_none()
    if event is None:
        db.session.rollback()
        gate.forget_event(event_id=event_id)
        return report
    hold_ids = list(gate.holds(event_id=event_id))
    resolved = db.session.scalars(select(SeatHold.hold_id).where(SeatHold.hold_id.in_(hold_ids))).all() if hold_ids else []
    waiting = db.session.scalars(
        select(WaitlistEntry.gate_key).where(WaitlistEntry.event_id == event_id, WaitlistEntry.status == "waiting")
    ).all()
    free = event.capacity - event.booked_seats
    before, after, added, removed, dropped = gate.script("fix")(
        keys=[gate.gate_key(event_id)], args=[free, len(resolved), *resolved, *waiting]
    )
    db.session.commit()
    report.avail_before = None if int(before) == -1 else int(before)
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
    from evently.events.models import Event

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
