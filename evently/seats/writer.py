"""The one guarded writer: every booking and waitlist entry is written here, as one SQL statement.

A seat change records up to seven things: the hold claim (`seat_holds`, the arbiter
against the reaper), the booking, one ticket per seat, the booking's notice in the
outbox, the waitlist entry for the rest (a join) or the served entry's new remainder
(a promotion), and the guard on the event row. They are one statement of
data-modifying CTEs whose RETURNING rows become the answer: one round trip, no
read-back, and the hot event row stays locked only from this statement to COMMIT.

The guard is a conditional UPDATE that adds the seats only within capacity, and
only while the event is published and has not started, under the same row lock
that cancellation takes; a write that books nothing (a join) takes a key-share
lock on the row under the same conditions. So a booking can never commit on an
event cancelled meanwhile, and a cancelled event's job sees every entry.

Nothing commits here: every write is in the caller's transaction, and a refusal
or a conflict is raised for the caller to roll back and resolve. PostgreSQL runs
the CTEs of one statement in an unspecified order, so a conflict on the booking's
`hold_id` or the entry's `gate_key` means the same as one on the claim: this hold
was recorded before (see `conflict`).
"""
from dataclasses import dataclass
from functools import lru_cache

import simplejson
from sqlalchemy import select, text

from evently.bookings.models import Booking
from evently.common.db import constraint_name
from evently.common.ids import booking_reference
from evently.common.models import mapped_columns, plain_record, utcnow
from evently.errors import EventNotBookable, EventStarted, NotFound
from evently.events.models import Event
from evently.extensions import db
from evently.notifications import outbox
from evently.waitlist.models import WaitlistEntry


class GuardRejected(Exception):
    """PostgreSQL refused the seats: the event's capacity is used up (the gate was wrong), the
    event closed meanwhile, or it changed since the copy the decision was made on (`refusal`
    tells which)."""


class EventChanged(Exception):
    """An admin changed the event after the copy a booking was decided on: decide again."""


class EntryChanged(Exception):
    """The entry a promotion serves is no longer waiting for that many seats."""


# What an IntegrityError from the statement means, by the constraint it names.
HOLD_RECORDED = frozenset({"pk_seat_holds", "uq_bookings_hold_id", "uq_waitlist_entries_gate_key"})
CONFLICTS = {
    **{name: "hold_recorded" for name in HOLD_RECORDED},
    "uq_bookings_reference": "reference_taken",
    "uq_waitlist_entries_one_active": "already_waitlisted",
    "ck_events_booked_within_capacity": "over_capacity",
    # The event row is gone (deleted while this request was between the gate and here).
    "fk_bookings_event_id_events": "event_gone",
    "fk_waitlist_entries_event_id_events": "event_gone",
}


def conflict(error):
    """The meaning of an IntegrityError the statement raised (see CONFLICTS), or None."""
    return CONFLICTS.get(constraint_name(error))


@dataclass(frozen=True)
class Served:
    """The waitlist entry a promotion serves, as the promotion locked it."""
    entry_id: int
    remaining: int  # seats it still waits for after this promotion
    seats_freed_at: object = None


@dataclass(frozen=True)
class Written:
    booking: object | None  # the new booking's columns (evently.common.models.plain_record)
    entry: object | None  # the new waitlist entry's columns, and its `position`
    notification_id: int | None  # the booking's notice in the outbox, to deliver after commit


def write(*, event, user_id, hold_id, taken, waiting=0, allow_partial=True, queue_seq=None, position=None,
          served=None):
    """Claim `hold_id` and write, in the current transaction: a booking of `taken` seats
    (source `waitlist` when `served` is the entry a promotion serves, else `direct`) with
    its tickets and its notice, and/or a waitlist entry for `waiting` seats with the gate's `queue_seq`
    and `position` (without a queue_seq, the entry goes to the back of the queue).
    `event` needs id, revision, title, starts_at, timezone, price and currency.
    Raises GuardRejected (see `refusal`), EntryChanged, IntegrityError (see `conflict`)."""
    statement = _statement(bool(taken), bool(waiting), served is not None)
    reference = notice = None
    if taken:
        reference = booking_reference()
        notice = _notice(event, reference, taken, served)
    row = db.session.connection().execute(statement, {
        "hold_id": hold_id, "event_id": event.id, "revision": event.revision, "user_id": user_id, "taken": taken,
        "unit_price": event.price, "total_amount": event.price * taken, "currency": event.currency,
        "reference": reference, "waiting": waiting, "allow_partial": allow_partial, "queue_seq": queue_seq,
        "entry_id": served.entry_id if served else None,
        "seats_freed_at": served.seats_freed_at if served else None,
        **(notice or _NO_NOTICE),
    }).mappings().one()
    if not row["admitted"]:
        raise GuardRejected()
    if served is not None and row["served_remaining"] is None:
        raise EntryChanged()
    booking = plain_record(Booking, row, "b_") if taken else None
    entry = None
    if waiting:
        entry = plain_record(WaitlistEntry, row, "e_")
        entry.position = position
    return Written(booking=booking, entry=entry, notification_id=row["notification_id"] if taken else None)


_NO_NOTICE = {"notice_kind": None, "subject": None, "body": None, "notice_extra": None}


def _notice(event, reference, taken, served):
    if served is None:
        subject, body = outbox.booking_confirmed_text(reference=reference, quantity=taken, event=event)
        return {"notice_kind": "booking_confirmed", "subject": subject, "body": body, "notice_extra": "{}"}
    subject, body = outbox.waitlist_promoted_text(reference=reference, quantity=taken, event=event,
                                                  still_waiting=served.remaining)
    extra = {"waitlistEntryId": served.entry_id, "stillWaitingFor": served.remaining}
    return {"notice_kind": "waitlist_promoted", "subject": subject, "body": body,
            "notice_extra": simplejson.dumps(extra)}


def refusal(event):
    """After a GuardRejected and the rollback, for the event as the decision saw it: the error
    to answer if the event closed (NotFound, EventNotBookable, EventStarted), EventChanged if
    it changed since, or None if capacity was the reason (the gate was wrong)."""
    now = db.session.execute(select(Event.status, Event.starts_at, Event.revision)
                             .where(Event.id == event.id)).one_or_none()
    if now is None:
        return NotFound("Event not found.")
    if now.status != "published":
        return EventNotBookable("This event is cancelled." if now.status == "cancelled" else None)
    if now.starts_at <= utcnow():
        return EventStarted()
    if now.revision != event.revision:
        return EventChanged()
    return None


def _returned(alias, model, prefix):
    return ", ".join(f"{alias}.{name} AS {prefix}{name}" for _key, name in mapped_columns(model))


# The event is open for seats, published and not started (now() is the transaction's start),
# and still as the decision saw it.
_OPEN = "status = 'published' AND starts_at > now() AND revision = :revision"


@lru_cache(maxsize=None)
def _statement(book, wait, serve):
    """The statement for one combination; text() compiled once per process."""
    ctes = ["""claim AS (
        INSERT INTO seat_holds (hold_id, event_id, outcome) VALUES (:hold_id, :event_id, 'committed')
        RETURNING hold_id)"""]
    selected, sources = [], []
    if book:
        ctes.append(f"""booking AS (
        INSERT INTO bookings (reference, user_id, event_id, quantity, unit_price, total_amount, currency,
                              source, hold_id, waitlist_entry_id, seats_freed_at)
        VALUES (:reference, :user_id, :event_id, :taken, :unit_price, :total_amount, :currency,
                '{"waitlist" if serve else "direct"}', :hold_id, :entry_id, :seats_freed_at)
        RETURNING *)""")
        # One ticket per seat, so a booking and its tickets commit together or not at all. Nothing
        # is signed here: a ticket's code is derived when shown (evently/tickets/codes.py).
        ctes.append("""tickets AS (
        INSERT INTO tickets (booking_id, event_id, seat_index)
        SELECT b.id, b.event_id, seat FROM booking b, generate_series(1, :taken) AS seat)""")
        # The dedupe key and payload need the new booking id; the text comes from evently.notifications.outbox.
        ctes.append("""notice AS (
        INSERT INTO notifications (dedupe_key, user_id, kind, subject, body, payload)
        SELECT :notice_kind || ':' || b.id, b.user_id, :notice_kind, :subject, :body,
               jsonb_build_object('bookingId', b.id, 'eventId', b.event_id, 'reference', b.reference)
               || CAST(:notice_extra AS jsonb)
        FROM booking b
        RETURNING id)""")
        selected.append(_returned("b", Booking, "b_"))
        selected.append("(SELECT id FROM notice) AS notification_id")
        sources.append("booking b")
        # The hot event row is locked from here to the commit: this statement's remainder and COMMIT.
        ctes.append(f"""guard AS (
        UPDATE events SET booked_seats = booked_seats + :taken, updated_at = now()
        WHERE id = :event_id AND booked_seats + :taken <= capacity AND {_OPEN}
        RETURNING id)""")
        selected.append("EXISTS (SELECT 1 FROM guard) AS admitted")
    else:
        ctes.append(f"""opened AS (
        SELECT id FROM events WHERE id = :event_id AND {_OPEN} FOR KEY SHARE)""")
        selected.append("EXISTS (SELECT 1 FROM opened) AS admitted")
    if wait:
        # Without the gate's number (the row-lock strategy), a trigger puts the entry at the back.
        ctes.append("""entry AS (
        INSERT INTO waitlist_entries (event_id, user_id, quantity_requested, quantity_remaining, allow_partial,
                                      gate_key, queue_seq)
        VALUES (:event_id, :user_id, :waiting, :waiting, :allow_partial, :hold_id, CAST(:queue_seq AS numeric))
        RETURNING *)""")
        selected.append(_returned("e", WaitlistEntry, "e_"))
        sources.append("entry e")
    if serve:
        ctes.append("""served AS (
        UPDATE waitlist_entries
        SET quantity_remaining = quantity_remaining - :taken, updated_at = now(),
            status = CASE WHEN quantity_remaining = :taken THEN 'served' ELSE status END
        WHERE id = :entry_id AND status = 'waiting' AND quantity_remaining >= :taken
        RETURNING quantity_remaining)""")
        selected.append("(SELECT quantity_remaining FROM served) AS served_remaining")
    # `claim` needs no reference: PostgreSQL runs every data-modifying CTE exactly once.
    source = " CROSS JOIN ".join(sources)
    return text(f"WITH {', '.join(ctes)}\nSELECT {', '.join(selected)}" + (f"\nFROM {source}" if source else ""))
