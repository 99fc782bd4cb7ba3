"""Ticket codes: an Ed25519 signature over a ticket's fields, verifiable offline with the event's public key.

A code reads

    EVT1:<ticket id>:<event id>:<seat index>:<booking reference>:<signature>

where the signature is over everything before its last colon (the version prefix
included, so a signature made for another format or purpose never verifies here),
written in unpadded base32. Every character is in the QR alphanumeric set (digits,
A-Z, ":" and "-"), so the QR code encodes 5.5 bits per character instead of 8.

Keys are not stored: each event's private key is derived from SECRET_KEY with HKDF
(SHA-256, a label of its own and the event id), so it exists only in the processes
that hold the secret, and a code can be derived whenever it is shown: Ed25519
signatures are deterministic, so the same ticket always has the same code.
docs/tickets.md says what rotating SECRET_KEY does to issued codes.
"""
import base64
import binascii
import re
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

VERSION = "EVT1"
ALGORITHM = "Ed25519"
_SALT = b"evently/tickets"
_LABEL = b"evently ticket signing key v1:event:"
_SIGNATURE_CHARS = 103  # 64 bytes in unpadded base32
_ID = r"[1-9][0-9]{0,18}"
# Canonical only (no leading zeros, upper case), so one ticket has exactly one code.
CODE = re.compile(rf"^{VERSION}:({_ID}):({_ID}):({_ID}):(EVT-[A-Z0-9]{{4,16}}):([A-Z2-7]{{{_SIGNATURE_CHARS}}})$")
MAX_LENGTH = 200


@dataclass(frozen=True)
class TicketFields:
    """What a code carries, and what its signature covers."""
    ticket_id: int
    event_id: int
    seat_index: int
    reference: str

    def payload(self):
        return f"{VERSION}:{self.ticket_id}:{self.event_id}:{self.seat_index}:{self.reference}"


@lru_cache(maxsize=4096)
def _private_key(secret, event_id):
    seed = HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=_LABEL + str(event_id).encode()).derive(secret)
    return Ed25519PrivateKey.from_private_bytes(seed)


def _key(event_id):
    return _private_key(current_app.config["SECRET_KEY"].encode(), event_id)


def public_key(event_id):
    """The event's public key: (raw 32 bytes in unpadded base64url, PEM SubjectPublicKeyInfo)."""
    key = _key(event_id).public_key()
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    pem = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode(), pem.decode()


def code_for(fields):
    """The ticket's code (deterministic: the same fields always give the same code)."""
    payload = fields.payload()
    signature = base64.b32encode(_key(fields.event_id).sign(payload.encode())).rstrip(b"=").decode()
    return f"{payload}:{signature}"


def verified(code):
    """The fields of a code whose signature verifies under its event's key, else None: a
    malformed, altered or forged code says nothing about which part was wrong."""
    if not isinstance(code, str) or len(code) > MAX_LENGTH:
        return None
    match = CODE.match(code)
    if match is None:
        return None
    ticket_id, event_id, seat_index, reference, signature = match.groups()
    fields = TicketFields(ticket_id=int(ticket_id), event_id=int(event_id), seat_index=int(seat_index),
                          reference=reference)
    try:
        raw = base64.b32decode(signature + "=" * (-len(signature) % 8))
        if base64.b32encode(raw).rstrip(b"=").decode() != signature:  # stray low bits in the last character
            return None
        _key(fields.event_id).public_key().verify(raw, fields.payload().encode())
    except (InvalidSignature, binascii.Error, ValueError):
        return None
    return fields
