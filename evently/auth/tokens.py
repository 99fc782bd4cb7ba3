"""JWT wiring: the claims every token must carry, who the token belongs to (its id and role, from
the claims), whether its session is still live, and the role guards."""
from dataclasses import dataclass
from functools import wraps

from flask import current_app, request
from flask_jwt_extended import current_user, verify_jwt_in_request
from flask_jwt_extended.exceptions import JWTDecodeError

from evently.errors import TOKEN_REFUSED, Forbidden, Unauthorized, handle_app_error
from evently.extensions import jwt
from evently.http import BEARER_AUTH, document_errors

from . import liveness
from .models import ROLES, RoleRights, User
from .sessions import FAMILY_CLAIM, FAMILY_ID, MAX_JTI_LENGTH, ROLE_CLAIM


@jwt.user_identity_loader
def user_identity(user):
    return str(user.id) if isinstance(user, User) else str(user)


@jwt.user_lookup_loader
def load_user(_header, payload):
    """The caller as the token tells it: its id and role, no query (the profile is read where
    a view shows it). `is_revoked` has checked the claims and the session before this runs."""
    return Caller(id=int(payload["sub"]), role=payload[ROLE_CLAIM])


@dataclass(frozen=True)
class Caller(RoleRights):
    """Who sends a request, from its access token."""

    id: int
    role: str


# flask-jwt-extended calls these loaders from inside its own Flask error
# handlers, where a raised exception escapes as a 500: they must return the
# envelope, not raise it.
@jwt.user_lookup_error_loader
def user_gone(_header, _payload):
    return handle_app_error(Unauthorized("The account behind this token no longer exists."))


_MAX_USER_ID = 2 ** 63 - 1


@jwt.token_in_blocklist_loader
def is_revoked(_header, payload):
    """Whether the token's session has ended (or the token lacks what Evently's tokens carry).
    One Redis read per authenticated request; PostgreSQL only on a miss or while Redis is down
    (evently/auth/liveness.py)."""
    user_id, family_id = checked_claims(payload)
    return not liveness.is_live(user_id=user_id, family_id=family_id)


def checked_claims(payload):
    """(user id, family id) of a correctly signed token, or JWTDecodeError (a 401) if it lacks
    what every token Evently mints carries: PyJWT checks `exp` only when present, and a
    malformed `sub`, `jti` or `fam` must be refused before it reaches a query."""
    exp = payload.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, (int, float)):
        raise JWTDecodeError("Missing or invalid claim: exp")
    jti = payload.get("jti")
    if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_LENGTH:
        raise JWTDecodeError("Missing or invalid claim: jti")
    subject = payload.get("sub")
    if not (isinstance(subject, str) and subject.isascii() and subject.isdigit() and int(subject) <= _MAX_USER_ID):
        raise JWTDecodeError("Missing or invalid claim: sub")
    family_id = payload.get(FAMILY_CLAIM)
    if not isinstance(family_id, str) or not FAMILY_ID.fullmatch(family_id):
        raise JWTDecodeError(f"Missing or invalid claim: {FAMILY_CLAIM}")
    if payload.get(ROLE_CLAIM) not in ROLES:
        raise JWTDecodeError(f"Missing or invalid claim: {ROLE_CLAIM}")
    return int(subject), family_id


@jwt.revoked_token_loader
@jwt.expired_token_loader
@jwt.invalid_token_loader
@jwt.unauthorized_loader
@jwt.needs_fresh_token_loader
@jwt.token_verification_failed_loader
def reject_token(*_args):
    return handle_app_error(Unauthorized(TOKEN_REFUSED))


BEARER = [{BEARER_AUTH: []}]


def auth_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        verify_jwt_in_request()
        return view(*args, **kwargs)

    return document_errors(Unauthorized, security=BEARER)(wrapper)


def admin_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        verify_jwt_in_request()
        if not current_user.is_admin:
            raise Forbidden("Only administrators may do this.")
        return view(*args, **kwargs)

    return document_errors(Unauthorized, Forbidden, security=BEARER)(wrapper)


def door_required(view):
    """Staff or admins: check-in and attendee lists, what a door needs."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        verify_jwt_in_request()
        if not current_user.works_the_door:
            raise Forbidden("Only staff and administrators may do this.")
        return view(*args, **kwargs)

    return document_errors(Unauthorized, Forbidden, security=BEARER)(wrapper)


def optional_user():
    """The caller if a valid access token came with the request, else None. Checked once
    per request: the list cache asks before its view does, and each check is a query.
    Kept in the WSGI environ, which is the request's own (`g` belongs to the app context,
    which an outer context, as in tests, shares across requests)."""
    environ = request.environ
    if "evently.caller" not in environ:
        if not _may_carry_a_token():
            environ["evently.caller"] = None
        else:
            verify_jwt_in_request(optional=True)
            environ["evently.caller"] = current_user if current_user else None
    return environ["evently.caller"]


def _may_carry_a_token():
    """False only when tokens are read from headers alone and that header is absent:
    then verify_jwt_in_request(optional=True) would find nothing, after a tenth of
    the CPU of a cached list hit (most public reads carry no token)."""
    config = current_app.config
    return config["JWT_TOKEN_LOCATION"] != ["headers"] or config["JWT_HEADER_NAME"] in request.headers
