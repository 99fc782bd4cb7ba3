"""JWT wiring: who the token belongs to, the revocation list, and the role guards."""
from datetime import datetime, timezone
from functools import wraps

from flask import current_app, g, request
from flask_jwt_extended import current_user, verify_jwt_in_request
from sqlalchemy import bindparam, exists, select

from evently.common.models import detached_instance
from evently.errors import Forbidden, Unauthorized, handle_app_error
from evently.extensions import db, jwt
from evently.http import BEARER_AUTH, document_errors

from .models import RevokedToken, User


@jwt.user_identity_loader
def user_identity(user):
    return str(user.id) if isinstance(user, User) else str(user)


@jwt.user_lookup_loader
def load_user(_header, payload):
    found = g.pop("evently_token_user", None)
    if found is not None and found[0] == payload["jti"]:
        return found[1]
    try:
        return db.session.get(User, int(payload["sub"]))
    except (TypeError, ValueError):
        return None


# flask-jwt-extended calls these loaders from inside its own Flask error
# handlers, where a raised exception escapes as a 500: they must return the
# envelope, not raise it.
@jwt.user_lookup_error_loader
def user_gone(_header, _payload):
    return handle_app_error(Unauthorized("The account behind this token no longer exists."))


# Built once: every authenticated request runs one of these, and building the
# statement and its cache key anew was a tenth of a booking's CPU. Core, run on the
# session's connection (its transaction): as an ORM select(User) the query took 16% of
# a booking's sampled CPU, most of it ORM compile state and identity-map loading; now 12%,
# of which the statement 4% and the connection's checkout 5% (README, Benchmark).
_USERS = User.__table__
_REVOKED = exists().where(RevokedToken.__table__.c.jti == bindparam("jti")).label("revoked")
_USER_AND_REVOKED = select(_USERS, _REVOKED).where(_USERS.c.id == bindparam("user_id"))
_ONLY_REVOKED = select(_REVOKED)


@jwt.token_in_blocklist_loader
def is_revoked(_header, payload):
    """Asked before `load_user`, so it loads the token's user in the same query:
    one round trip per authenticated request instead of two, and `load_user`
    takes the user from `g` instead of reading it again. The user is a detached
    instance: views and services read its columns (id, role, the profile) and
    never write through it."""
    try:
        user_id = int(payload["sub"])
    except (TypeError, ValueError):
        user_id = None
    connection = db.session.connection()
    if user_id is not None:
        row = connection.execute(_USER_AND_REVOKED, {"jti": payload["jti"], "user_id": user_id}).first()
        if row is not None:
            g.evently_token_user = (payload["jti"], detached_instance(User, row._mapping))
            return row.revoked
    return connection.execute(_ONLY_REVOKED, {"jti": payload["jti"]}).scalar()


@jwt.revoked_token_loader
@jwt.expired_token_loader
@jwt.invalid_token_loader
@jwt.unauthorized_loader
@jwt.needs_fresh_token_loader
@jwt.token_verification_failed_loader
def reject_token(*_args):
    return handle_app_error(Unauthorized("The access token is missing, invalid, expired or revoked."))


BEARER = [{BEARER_AUTH: []}]


def auth_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        verify_jwt_in_request()
        return view(*args, **kwargs)

    return document_errors(401, security=BEARER)(wrapper)


def admin_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        verify_jwt_in_request()
        if not current_user.is_admin:
            raise Forbidden("Only administrators may do this.")
        return view(*args, **kwargs)

    return document_errors(401, 403, security=BEARER)(wrapper)


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


def expiry_of(payload):
    return datetime.fromtimestamp(payload["exp"], tz=timezone.utc)
