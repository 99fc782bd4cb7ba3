"""Tickets follow their seats: when seats are given back, their tickets are voided in the same transaction.

The tickets themselves are written by the one writer (writer.py) with their booking.
A partial cancellation keeps `quantity - k` tickets and voids the rest: seats not yet
checked in go first, highest seat index first, so a ticket that already let someone in
stays valid as long as the booking keeps enough seats (docs/tickets.md).
"""
from sqlalchemy import bindparam, text

from evently.extensions import db

_VOID_BEYOND = text("""
    UPDATE tickets SET status = 'void', voided_at = now()
    WHERE id IN (
        SELECT t.id FROM tickets t
        WHERE t.booking_id = :booking_id AND t.status = 'valid'
        ORDER BY EXISTS (SELECT 1 FROM checkins c WHERE c.ticket_id = t.id AND c.undone_at IS NULL) DESC,
                 t.seat_index
        OFFSET :keep)""")

_VOID_BOOKINGS = text("""
    UPDATE tickets SET status = 'void', voided_at = now()
    WHERE booking_id IN :booking_ids AND status = 'valid'""").bindparams(bindparam("booking_ids", expanding=True))


def keep_only(*, booking_id, keep):
    """Void the booking's valid tickets beyond the `keep` it still holds (0: all), inside the
    caller's transaction, which holds the booking's row lock."""
    db.session.execute(_VOID_BEYOND, {"booking_id": booking_id, "keep": keep})


def void_bookings(booking_ids):
    """Void every valid ticket of these bookings, inside the caller's transaction."""
    if booking_ids:
        db.session.execute(_VOID_BOOKINGS, {"booking_ids": list(booking_ids)})
