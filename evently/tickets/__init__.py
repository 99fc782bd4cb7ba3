"""Tickets: one signed ticket per confirmed seat, its QR code, and check-in at the door."""
