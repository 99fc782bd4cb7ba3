"""What a booking's mails carry besides their text: one QR image per valid ticket and a calendar file.

Built when a mail is delivered, not when the booking is written: the booking's statement
stays as lean as it was, and a mail delivered after a partial cancellation carries only
the tickets still valid. Each file is rendered only when the mail is really sent: with no
SMTP relay configured (development, the benchmark) the mailer logs the file names, and
rendering images for a log line would take the worker's CPU from mails that are sent.
"""
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from sqlalchemy import select

from evently.bookings.models import Booking
from evently.events.models import Event
from evently.extensions import db
from evently.tickets import calendar, codes, qr
from evently.tickets.models import Ticket

# Mails about a booking that the attendee brings to the door.
TICKET_KINDS = frozenset({"booking_confirmed", "waitlist_promoted", "event_reminder"})


@dataclass(frozen=True)
class Attachment:
    filename: str
    maintype: str
    subtype: str
    render: Callable[[], bytes]

    @property
    def data(self):
        return self.render()


def for_notification(*, kind, payload):
    """The attachments of an outbox row of this kind and payload (none for most kinds)."""
    booking_id = (payload or {}).get("bookingId")
    if kind not in TICKET_KINDS or booking_id is None:
        return []
    booking = db.session.get(Booking, booking_id)
    event = db.session.get(Event, booking.event_id) if booking is not None else None
    if event is None:
        return []
    tickets = db.session.scalars(select(Ticket).where(Ticket.booking_id == booking.id, Ticket.status == "valid")
                                 .order_by(Ticket.seat_index)).all()
    attached = [Attachment(filename=f"{booking.reference}-seat-{ticket.seat_index}.png", maintype="image",
                           subtype="png", render=partial(_qr_png, ticket, booking.reference))
                for ticket in tickets]
    ics = partial(calendar.booking_calendar, booking_reference=booking.reference, booking_id=booking.id,
                  quantity=len(tickets), event=event)
    attached.append(Attachment(filename=f"{booking.reference}.ics", maintype="text", subtype="calendar", render=ics))
    return attached


def _qr_png(ticket, reference):
    return qr.render(codes.code_for(codes.TicketFields(ticket_id=ticket.id, event_id=ticket.event_id,
                                                       seat_index=ticket.seat_index, reference=reference)), qr.PNG)
