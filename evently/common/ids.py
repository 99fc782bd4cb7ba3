"""Human-facing identifiers."""
import secrets

# No 0/O, 1/I/L: references are read aloud and typed in by people.
UNAMBIGUOUS = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def booking_reference(length=8):
    return "EVT-" + "".join(secrets.choice(UNAMBIGUOUS) for _ in range(length))
