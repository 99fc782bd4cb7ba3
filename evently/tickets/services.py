"""Tickets of a booking with their codes and QR images, the events' check-in keys, and check-in at the door.

The door path (`check_in`, `undo_check_in`) uses PostgreSQL only, so the door keeps
working while Redis is down: a code is verified with the event's key before any
query, and the one live check-in per ticket is a partial unique index
(`uq_checkins_live_ticket`), so of two scanners racing on one code exactly one wins.
"""
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text

from evently.audit.log import Auditor
from evently.bookings.models import Booking
from evently.common.fields import utc_timestamp
from evently.errors import AlreadyCheckedIn, NotFound, TicketVoid, Unavailable
from evently.events.models import Event
from evently.extensions import db

from . import codes, qr
from .models import CheckIn, Ticket

UNKNOWN_CODE = "No valid ticket has this code."


@dataclass(frozen=True)
class TicketView:
    id: int
    booking_id: int
    event_id: int
    seat_index: int
    status: str
    voided_at: datetime | None
    checked_in_at: datetime | None
    code: str


def _booking_of(actor, booking_id):
    """The booking if the actor may see it (Booking.visible_to); NotFound otherwise."""
    booking = db.session.get(Booking, booking_id)
    if booking is None or not booking.visible_to(actor):
        raise NotFound("Booking not found.")
    return booking


def _code(ticket, reference):
    return codes.code_for(codes.TicketFields(ticket_id=ticket.id, event_id=ticket.event_id,
                                             seat_index=ticket.seat_index, reference=reference))


def list_tickets(*, actor, booking_id):
    """The booking's tickets in seat order, valid and void, each with its code and whether it
    was checked in. Raises NotFound (no such booking, or another user's)."""
    booking = _booking_of(actor, booking_id)
    rows = db.session.execute(
        select(Ticket, CheckIn.checked_in_at)
        .outerjoin(CheckIn, (CheckIn.ticket_id == Ticket.id) & CheckIn.undone_at.is_(None))
        .where(Ticket.booking_id == booking.id).order_by(Ticket.seat_index)).all()
    db.session.rollback()
    return [TicketView(id=ticket.id, booking_id=ticket.booking_id, event_id=ticket.event_id,
                       seat_index=ticket.seat_index, status=ticket.status, voided_at=ticket.voided_at,
                       checked_in_at=checked_in_at, code=_code(ticket, booking.reference))
            for ticket, checked_in_at in rows]


def ticket_image(*, actor, booking_id, ticket_id, kind):
    """One ticket's code as a QR image (qr.SVG or qr.PNG bytes). Raises NotFound, TicketVoid."""
    booking = _booking_of(actor, booking_id)
    ticket = db.session.scalar(select(Ticket).where(Ticket.id == ticket_id, Ticket.booking_id == booking.id))
    db.session.rollback()
    if ticket is None:
        raise NotFound("Ticket not found.")
    if ticket.status == "void":
        raise TicketVoid()
    return qr.render(_code(ticket, booking.reference), kind)


@dataclass(frozen=True)
class CheckinKey:
    event_id: int
    algorithm: str
    public_key: str
    public_key_pem: str
    code_format: str


def checkin_key(*, viewer, event_id):
    """The event's Ed25519 public key, for scanners that verify codes offline: for any published
    or cancelled event, and for staff and admins any event. Raises NotFound."""
    status = db.session.scalar(select(Event.status).where(Event.id == event_id))
    db.session.rollback()
    if status is None or (status == "draft" and not (viewer is not None and viewer.works_the_door)):
        raise NotFound("Event not found.")
    raw, pem = codes.public_key(event_id)
    return CheckinKey(event_id=event_id, algorithm=codes.ALGORITHM, public_key=raw, public_key_pem=pem,
                      code_format=f"{codes.VERSION}:<ticketId>:<eventId>:<seatIndex>:<bookingReference>:<signature>")


@dataclass(frozen=True)
class Admitted:
    """A check-in: who was let in, on which seat, when and by whom. `replayed`: the same
    scanner's retry of a scan already recorded (same request id)."""
    ticket_id: int
    event_id: int
    booking_reference: str
    name: str
    quantity: int
    seat_index: int
    checked_in_at: datetime
    checked_in_by: dict
    replayed: bool = False


# The ticket, its booking, holder and event; FOR SHARE of the ticket so that voiding it (an
# UPDATE) waits for a check-in in flight instead of slipping between its read and its insert.
_TICKET = text("""
    SELECT t.id, t.event_id, t.seat_index, t.status, b.reference, b.quantity, u.name, e.status AS event_status
    FROM tickets t JOIN bookings b ON b.id = t.booking_id JOIN users u ON u.id = b.user_id
         JOIN events e ON e.id = t.event_id
    WHERE t.id = :ticket_id
    FOR SHARE OF t""")
_ADMIT = text("""
    INSERT INTO checkins (ticket_id, event_id, scanned_by_id, request_id)
    VALUES (:ticket_id, :event_id, :scanner_id, :request_id)
    ON CONFLICT (ticket_id) WHERE undone_at IS NULL DO NOTHING
    RETURNING checked_in_at, (SELECT name FROM users WHERE id = :scanner_id) AS scanned_by_name""")
_LIVE = text("""
    SELECT c.checked_in_at, c.scanned_by_id, c.request_id, u.name AS scanned_by_name
    FROM checkins c LEFT JOIN users u ON u.id = c.scanned_by_id
    WHERE c.ticket_id = :ticket_id AND c.undone_at IS NULL""")


def check_in(*, scanner, code, request_id):
    """Admit the ticket a code names, once. The same scanner's retry with the same request id
    gets the first answer again (`replayed`). Raises NotFound (malformed, forged or unknown
    code: one answer for all), TicketVoid (its seat was cancelled, or its event),
    AlreadyCheckedIn (details: when and by whom), Unavailable (check-ins and undos kept racing)."""
    fields = codes.verified(code)
    if fields is None:
        raise NotFound(UNKNOWN_CODE)
    try:
        admitted = _admit(fields, scanner, request_id)
        db.session.commit()
        return admitted
    except BaseException:
        db.session.rollback()
        raise


def _admit(fields, scanner, request_id):
    connection = db.session.connection()
    ticket = connection.execute(_TICKET, {"ticket_id": fields.ticket_id}).first()
    if ticket is None or (ticket.event_id, ticket.seat_index, ticket.reference) != (
            fields.event_id, fields.seat_index, fields.reference):
        raise NotFound(UNKNOWN_CODE)
    if ticket.status == "void" or ticket.event_status == "cancelled":
        raise TicketVoid()
    # A few rounds at most: the live check-in that beat this one may be undone before it is read.
    for _attempt in range(3):
        # The token names the scanner by id only; the answer shows the name the row now has.
        admitted = connection.execute(_ADMIT, {"ticket_id": ticket.id, "event_id": ticket.event_id,
                                               "scanner_id": scanner.id, "request_id": request_id}).first()
        if admitted is not None:
            return _admitted(ticket, admitted.checked_in_at, {"id": scanner.id, "name": admitted.scanned_by_name})
        live = connection.execute(_LIVE, {"ticket_id": ticket.id}).first()
        if live is None:
            continue
        by = {"id": live.scanned_by_id, "name": live.scanned_by_name}
        if live.scanned_by_id == scanner.id and live.request_id == request_id:
            return _admitted(ticket, live.checked_in_at, by, replayed=True)
        raise AlreadyCheckedIn(
            f"Already checked in at {utc_timestamp(live.checked_in_at)} by {live.scanned_by_name or 'a removed account'}.",
            details={"ticketId": ticket.id, "seatIndex": ticket.seat_index,
                     "checkedInAt": utc_timestamp(live.checked_in_at), "checkedInBy": by})
    raise Unavailable("This ticket is being checked in and undone at once; scan it again.")


def _admitted(ticket, at, by, replayed=False):
    return Admitted(ticket_id=ticket.id, event_id=ticket.event_id, booking_reference=ticket.reference,
                    name=ticket.name, quantity=ticket.quantity, seat_index=ticket.seat_index, checked_in_at=at,
                    checked_in_by=by, replayed=replayed)


@dataclass(frozen=True)
class Undone:
    ticket_id: int
    event_id: int
    checked_in_at: datetime
    undone_at: datetime


_UNDO = text("""
    UPDATE checkins SET undone_at = now(), undone_by_id = :actor_id
    WHERE ticket_id = :ticket_id AND undone_at IS NULL
    RETURNING event_id, checked_in_at, scanned_by_id, request_id, undone_at""")


def undo_check_in(*, actor, ticket_id, reason=None):
    """Undo a mistaken scan: the ticket can be checked in again. Recorded in the event's audit
    log with who undid it and why. Raises NotFound (the ticket is not checked in)."""
    try:
        row = db.session.execute(_UNDO, {"ticket_id": ticket_id, "actor_id": actor.id}).first()
        if row is None:
            raise NotFound("This ticket is not checked in.")
        Auditor(actor_id=actor.id, reason=reason).record(
            action="checkin.undo", subject_type="ticket", subject_id=ticket_id, event_id=row.event_id,
            before={"checkedInAt": row.checked_in_at, "checkedInBy": row.scanned_by_id},
            after={"checkedIn": False})
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return Undone(ticket_id=ticket_id, event_id=row.event_id, checked_in_at=row.checked_in_at,
                  undone_at=row.undone_at)
