"""Checking a pooled PostgreSQL connection before use only when it has been idle a while.

SQLAlchemy's pool_pre_ping sends `SELECT 1` on every checkout: a round trip, and a tenth of
a booking's CPU, spent on connections that served another request a millisecond ago. A
connection that sat idle can have been cut (a PostgreSQL restart, a failover, a firewall's
idle timeout), so those are pinged; a busy one that breaks is caught where it is used, and
SQLAlchemy then invalidates the whole pool (its optimistic disconnect handling), so one
request answers 503 and the next ones get fresh connections.
"""
import time

from sqlalchemy import event, exc
from sqlalchemy.pool import Pool

IDLE_PING_SECONDS = 10.0
_CHECKED_IN = "evently_checked_in_at"


@event.listens_for(Pool, "checkin")
def _remember_checkin(_dbapi_connection, record):
    record.info[_CHECKED_IN] = time.monotonic()


@event.listens_for(Pool, "checkout")
def _ping_if_idle(dbapi_connection, record, _proxy):
    checked_in = record.info.get(_CHECKED_IN)
    if checked_in is None or time.monotonic() - checked_in < IDLE_PING_SECONDS:
        return
    # As SQLAlchemy's psycopg2 ping does: outside a transaction, so none is left open.
    autocommit = dbapi_connection.autocommit
    try:
        dbapi_connection.autocommit = True
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        dbapi_connection.autocommit = autocommit
    except Exception as error:  # noqa: BLE001 - any failure: the pool replaces this connection
        raise exc.DisconnectionError(f"idle connection failed its ping: {error}") from error
