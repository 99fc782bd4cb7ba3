"""The booking transaction's writes as one SQL statement.

A booking request records up to five things: the hold claim (`seat_holds`, the
arbiter against the reaper), the booking and its confirmation in the
notification outbox, the waitlist entry for the rest, and the capacity guard on
the event row. Through the ORM's unit of work these were five round trips and
~4 ms of CPU per request, most of a booking's cost (see README, Benchmark).
Here they are one statement of data-modifying CTEs, whose RETURNING rows become
the answer, so the request needs no read-back, and the hot event row stays
locked only from this statement to COMMIT.

What stays the same: every write is in the caller's transaction (nothing
commits here); the guard is the conditional UPDATE `booked_seats + n <=
capacity` and reports whether it matched; a conflict raises IntegrityError
naming the constraint, for the caller to resolve exactly as before. PostgreSQL
runs the CTEs of one statement in an unspecified order, so the caller must
treat a conflict on the booking's `hold_id` or the entry's `gate_key` like one
on the claim: all three mean this hold was recorded before.
"""
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import text

from evently.bookings.models import Booking
from evently.common.ids import booking_reference
from evently.common.models import detached_instance, mapped_columns
from evently.extensions import db
from evently.notifications import outbox
from evently.waitlist.models import WaitlistEntry

# Constraints that mean "this hold id already has an outcome" (see the module docstring).
HOLD_RECORDED_CONSTRAINTS = frozenset({"pk_seat_holds", "uq_bookings_hold_id", "uq_waitlist_entries_gate_key"})


@dataclass(frozen=True)
class Written:
    booking: Booking | None
    entry: WaitlistEntry | None
    guarded: bool  # the capacity guard matched (always True when nothing was booked)
    notification_id: int | None  # the booking's confirmation in the outbox, to deliver after commit


def write_outcome(*, user_id, event, hold_id, requested, taken, waitlisted, allow_partial, position=None,
                  guard=True):
    """Claim `hold_id` and write a booking of `taken` seats (with its confirmation
    in the outbox) and/or a waitlist entry for `requested - taken`, in the
    current transaction. With `guard`, the event's booked_seats grows by `taken`
    only within capacity (`guarded` says whether it did); without it (negative
    control only) the caller updates it. The entry's `position` is the gate's
    (see take.lua); without one (the pglock baseline) it is counted here."""
    guarded_write = bool(taken) and guard
    count_position = bool(waitlisted) and position is None
    statement = _statement(bool(taken), bool(waitlisted), guarded_write, count_position)
    reference = subject = body = None
    if taken:
        reference = booking_reference()
        subject, body = outbox.booking_confirmed_text(reference=reference, quantity=taken, event=event)
    # On the session's connection (same transaction): Session.execute adds ORM bookkeeping a text() statement never uses.
    row = db.session.connection().execute(statement, {
        "hold_id": hold_id, "event_id": event.id, "user_id": user_id, "taken": taken,
        "unit_price": event.price, "total_amount": event.price * taken, "currency": event.currency,
        "reference": reference, "waiting": requested - taken, "allow_partial": allow_partial,
        "subject": subject, "body": body, "position": position,
    }).mappings().one()
    booking = detached_instance(Booking, row, "b_") if taken else None
    entry = None
    if waitlisted:
        entry = detached_instance(WaitlistEntry, row, "e_")
        entry.position = row["position"]
    return Written(booking=booking, entry=entry, guarded=row["guarded"] if guarded_write else True,
                   notification_id=row["notification_id"] if taken else None)


def _returned(alias, model, prefix):
    return ", ".join(f"{alias}.{name} AS {prefix}{name}" for _key, name in mapped_columns(model))


@lru_cache(maxsize=None)
def _statement(book, wait, guard, count_position):
    """The statement for one combination; text() compiled once per process."""
    ctes = ["""claim AS (
        INSERT INTO seat_holds (hold_id, event_id, outcome) VALUES (:hold_id, :event_id, 'committed')
        RETURNING hold_id)"""]
    selected, sources = [], []
    if book:
        ctes.append("""booking AS (
        INSERT INTO bookings (reference, user_id, event_id, quantity, unit_price, total_amount, currency,
                              source, hold_id)
        VALUES (:reference, :user_id, :event_id, :taken, :unit_price, :total_amount, :currency, 'direct', :hold_id)
        RETURNING *)""")
        # The dedupe key and payload need the new booking id; the text is outbox.booking_confirmed_text.
        ctes.append("""notice AS (
        INSERT INTO notifications (dedupe_key, user_id, kind, subject, body, payload)
        SELECT 'booking_confirmed:' || b.id, b.user_id, 'booking_confirmed', :subject, :body,
               jsonb_build_object('bookingId', b.id, 'eventId', b.event_id, 'reference', b.reference)
        FROM booking b
        RETURNING id)""")
        selected.append(_returned("b", Booking, "b_"))
        selected.append("(SELECT id FROM notice) AS notification_id")
        sources.append("booking b")
    if wait:
        ctes.append("""entry AS (
        INSERT INTO waitlist_entries (event_id, user_id, quantity_requested, quantity_remaining, allow_partial,
                                      gate_key)
        VALUES (:event_id, :user_id, :waiting, :waiting, :allow_partial, :hold_id)
        RETURNING *)""")
        selected.append(_returned("e", WaitlistEntry, "e_"))
        if count_position:
            # Only without the gate (the pglock baseline, where the event row lock serializes joins): the
            # count visits every waiting entry, so on a long queue it is the costliest part of the write.
            # The statement's snapshot does not contain the new entry: count those before it, plus one.
            selected.append("""(SELECT count(*) FROM waitlist_entries w
          WHERE w.event_id = e.event_id AND w.status = 'waiting' AND w.id < e.id) + 1 AS position""")
        else:
            selected.append("CAST(:position AS integer) AS position")
        sources.append("entry e")
    if guard:
        # The hot event row is locked from here to the commit: this statement's remainder and
        # COMMIT, one round trip.
        ctes.append("""guard AS (
        UPDATE events SET booked_seats = booked_seats + :taken, updated_at = now()
        WHERE id = :event_id AND booked_seats + :taken <= capacity
        RETURNING id)""")
        selected.append("EXISTS (SELECT 1 FROM guard) AS guarded")
    # `claim` needs no reference: PostgreSQL runs every data-modifying CTE exactly once.
    return text(f"WITH {', '.join(ctes)}\nSELECT {', '.join(selected)}\nFROM {' CROSS JOIN '.join(sources)}")
