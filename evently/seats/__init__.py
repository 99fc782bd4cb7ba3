"""The seat engine: every code path that changes an event's seats or its queue.

    gate.py, lua/     the Redis gate (atomic admission in Lua, keyed by the event's incarnation)
    holds.py          the hold ledger: a hold is booked or released, never both
    writer.py         the one guarded writer of bookings and waitlist entries (direct and waitlist)
    admission.py      take -> write -> settle for a booking or a join (the gated strategy)
    rowlock.py        the same decisions under a PostgreSQL row lock, without Redis (the baseline)
    promotion.py      serving the queue from freed seats, exactly once per seat
    release.py        seats given back and queue changes: cancelling (part of) a booking, leaving or
                      removal, a moved entry, a capacity change, pausing and resuming the queue
    tickets.py        tickets follow their seats: voided in the transaction that gives the seats back
    cancellation.py   removing or cancelling an event, and the job that cancels its bookings and waiters
    reconcile.py      reaping expired holds and correcting each gate from PostgreSQL
    locking.py        the event row lock every seat change takes
    models.py         the hold ledger's table (seat_holds)
    tasks.py          the Celery tasks that run the above

Domains (bookings, waitlist, events) keep their routes, schemas, reads and models
and call in here; this package imports only models and common helpers.
"""


def init_app(app):
    """Resolve the admission strategy once, at start-up (BOOKING_STRATEGY: redis | pglock), and
    give the app its per-process copies of events (EVENT_CACHE_SECONDS) and its hold finisher."""
    from . import holds
    from .admission import EXTENSION, GatedAdmission, init_event_cache
    from .rowlock import RowLockAdmission

    strategies = {"redis": GatedAdmission, "pglock": RowLockAdmission}
    name = app.config["BOOKING_STRATEGY"]
    if name not in strategies:
        raise RuntimeError(f"BOOKING_STRATEGY must be one of {sorted(strategies)}, not {name!r}")
    app.extensions[EXTENSION] = strategies[name]()
    init_event_cache(app)
    holds.init_app(app)
