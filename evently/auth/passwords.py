"""Password hashing: argon2 over the NFKC form, so "café" typed as one code point or as
"e" plus a combining accent is the same password."""
import unicodedata
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

hasher = PasswordHasher()
# Verified against when there is no account to check (an unknown address, a locked one), so
# every refusal costs the same time as a wrong password.
_DUMMY_HASH = hasher.hash("not-a-real-password")


@dataclass(frozen=True)
class Verification:
    ok: bool
    # The stored hash should be replaced: it was made from the raw (not normalised) text,
    # or with older argon2 parameters.
    needs_rehash: bool = False


def normalize(password):
    return unicodedata.normalize("NFKC", password)


def hash_password(password):
    return hasher.hash(normalize(password))


def verify(stored_hash, password):
    """Check `password` against `stored_hash`. Hashes made before normalisation hold the raw
    text; those still verify (and ask to be rehashed), so no account is locked out by the change."""
    return _verify(stored_hash, password)


def burn_time(password):
    """Do the work of a verification that cannot succeed."""
    _verify(_DUMMY_HASH, password)
    return Verification(False)


def _verify(stored_hash, password):
    normalized = normalize(password)
    if _matches(stored_hash, normalized):
        return Verification(True, hasher.check_needs_rehash(stored_hash))
    if normalized != password and _matches(stored_hash, password):
        return Verification(True, True)
    return Verification(False)


def _matches(stored_hash, text):
    try:
        return hasher.verify(stored_hash, text)
    except (VerificationError, InvalidHashError):
        return False
