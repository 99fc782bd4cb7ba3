"""The row-lock strategy: admission without Redis, the event row locked for the whole decision.

The benchmark's baseline (BOOKING_STRATEGY=pglock), and a way to run with the
gate switched off: the same writer, rules and promises as the gated strategy,
decided in PostgreSQL under the event's row lock instead of in a Lua script.
"""
from sqlalchemy import exists, select

from evently.errors import SeatsAvailable
from evently.extensions import db
from evently.waitlist.models import WaitlistEntry, fits

from . import holds, writer
from .admission import record, refuse_if_nothing, settled
from .gate import Decision
from .locking import lock_event


class RowLockAdmission:
    def admit(self, *, user_id, event, quantity, allow_partial, join_waitlist, mode, on_recorded):
        locked = lock_event(event.id)  # the guard in the write re-checks it is still open
        free = locked.capacity - locked.booked_seats
        claimed = queue_claims(event.id, free)
        if mode == "waitlist" and free >= quantity and not claimed:
            db.session.rollback()
            raise SeatsAvailable(details={"availableSeats": free})
        taken = 0
        if mode == "direct" and not claimed:
            taken = min(quantity, free)
            if taken < quantity and not allow_partial:
                taken = 0
        decision = Decision("OK", taken, join_waitlist and taken < quantity, free - taken)
        try:
            refuse_if_nothing(decision, event=event)
        except Exception:
            db.session.rollback()
            raise
        try:
            admission = record(event=event, user_id=user_id, hold_id=holds.new_hold_id(), requested=quantity,
                               decision=decision, allow_partial=allow_partial, on_recorded=on_recorded)
        except writer.GuardRejected:
            # Under the row lock only a changed or closed event refuses the write (never capacity).
            refused = writer.refusal(event)
            db.session.rollback()
            raise (refused or writer.EventChanged()) from None
        settled(admission, queue_claims_after(admission, event.id, free - taken), event_id=event.id)
        return admission


def queue_claims(event_id, free):
    """Could a waiting entry take some of `free` seats now? (the gate's rule, lua/queue.lua)"""
    if free <= 0:
        return False
    return db.session.scalar(select(exists().where(
        WaitlistEntry.event_id == event_id, WaitlistEntry.status == "waiting", fits(free))))


def queue_claims_after(admission, event_id, free):
    """After the commit: whether this join left free seats next to a waiter who could take them."""
    if admission.waitlist_entry is None:
        return False
    claimed = queue_claims(event_id, free)
    db.session.rollback()
    return claimed
