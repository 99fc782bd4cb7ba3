"""Events: browsing, and the admin lifecycle (create, update, cancel or delete); seat changes go through the seat engine."""
from dataclasses import dataclass
from datetime import datetime, timezone

from flask import current_app
from sqlalchemy import bindparam, exists, func, or_, select

from evently.audit.log import Auditor, snapshot
from evently.bookings.models import Booking
from evently.common.db import transaction
from evently.common.models import detached_instance
from evently.errors import EventCancelled, EventHasBookings, Forbidden, NotFound, Unauthorized, ValidationError
from evently.extensions import db
from evently.seats import admission, cancellation, gate, release
from evently.seats.locking import lock_event
from evently.waitlist.models import WaitlistEntry

from .models import Event

EDITABLE_FIELDS = ("title", "description", "venue", "starts_at", "ends_at", "capacity", "price", "currency",
                   "status", "max_per_booking", "max_per_user", "waitlist_paused", "timezone")

SORT_ORDERS = {
    "startsAt": (Event.starts_at.asc(), Event.id.asc()),
    "-startsAt": (Event.starts_at.desc(), Event.id.desc()),
    "popularity": (Event.booked_seats.desc(), Event.starts_at.asc(), Event.id.asc()),
    "price": (Event.price.asc(), Event.starts_at.asc(), Event.id.asc()),
    "-price": (Event.price.desc(), Event.starts_at.asc(), Event.id.asc()),
}


@dataclass(frozen=True)
class EventView:
    """An event as the API shows it: the row plus its live seats and waitlist size."""

    event: Event
    available_seats: int
    waitlist_count: int

    def __getattr__(self, name):
        if name == "event":  # not set yet (copy, unpickle): do not recurse
            raise AttributeError(name)
        return getattr(self.event, name)


@dataclass(frozen=True)
class EventPage:
    items: list
    page: int
    per_page: int
    total: int


@dataclass(frozen=True)
class EventRemoval:
    """`deleted` when the row is gone; otherwise `event` is the cancelled event."""

    event_id: int
    deleted: bool
    event: EventView | None = None
    cancellation_job: object | None = None

    def __getattr__(self, name):
        """Dumped as the cancelled event plus `deleted` and `cancellationJob`."""
        if name == "event" or self.event is None:
            raise AttributeError(name)
        return getattr(self.event, name)


def list_events(*, viewer, page=1, per_page=20, q=None, starts_from=None, to=None, venue=None, sort="startsAt",
                status=None):
    """One page of events, published and upcoming unless filtered otherwise.

    `starts_from` defaults to now, so past events appear only when asked for.
    `status` (draft|published|cancelled|all) is an admin-only filter: raises
    Unauthorized without a viewer and Forbidden for a non-admin viewer."""
    if status is not None:
        _require_admin(viewer, "Only administrators may filter events by status.")
    query = select(Event)
    if status is None:
        query = query.where(Event.status == "published")
    elif status != "all":
        query = query.where(Event.status == status)
    query = query.where(Event.starts_at >= (starts_from or _now()))
    if to is not None:
        query = query.where(Event.starts_at <= to)
    if q:
        pattern = f"%{escape_like(q)}%"
        query = query.where(or_(Event.title.ilike(pattern, escape="\\"), Event.description.ilike(pattern, escape="\\")))
    if venue:
        query = query.where(func.lower(Event.venue) == venue.strip().lower())
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    events = db.session.scalars(
        query.order_by(*SORT_ORDERS[sort]).limit(per_page).offset((page - 1) * per_page)
    ).all()
    return EventPage(items=present(events), page=page, per_page=per_page, total=total)


# The event page is what buyers reload in a flash sale. Core on the session's connection and a
# detached instance: ~10% less CPU per page than db.session.get's ORM load (README, Benchmark).
_EVENT_ROW = select(Event.__table__).where(Event.__table__.c.id == bindparam("event_id"))


def get_event(*, viewer, event_id):
    """A published event, or any event for an admin. Raises NotFound otherwise."""
    row = db.session.connection().execute(_EVENT_ROW, {"event_id": event_id}).first()
    if row is None or (row.status != "published" and not _is_admin(viewer)):
        raise NotFound("Event not found.")
    return present([detached_instance(Event, row._mapping)])[0]


def create_event(*, actor, title, venue, starts_at, ends_at, capacity, price, description="", currency="USD",
                 status="draft", max_per_booking=None, max_per_user=None, waitlist_paused=False, timezone="UTC"):
    """Create an event (admin, audited). Raises Forbidden for a non-admin actor."""
    _require_admin(actor)
    if max_per_booking is None:
        max_per_booking = current_app.config["DEFAULT_MAX_PER_BOOKING"]
    event = Event(title=title.strip(), description=description, venue=venue.strip(), starts_at=starts_at,
                  ends_at=ends_at, capacity=capacity, price=price, currency=currency, status=status,
                  max_per_booking=max_per_booking, max_per_user=max_per_user, waitlist_paused=waitlist_paused,
                  timezone=timezone, created_by_id=actor.id)
    with transaction():
        db.session.add(event)
        db.session.flush()
        Auditor(actor_id=actor.id).record(action="event.create", subject_type="event", subject_id=event.id,
                                          event_id=event.id, after=snapshot(event, EDITABLE_FIELDS))
    return present([event])[0]


def update_event(*, actor, event_id, **changes):
    """Change some fields of an event (admin), keeping the seat gate in step with capacity.

    Raises Forbidden (non-admin), NotFound, EventCancelled, ValidationError
    (endsAt not after startsAt once merged with the stored values),
    EventHasBookings (back to draft with people holding or awaiting seats) and
    CapacityBelowBooked (capacity under the seats already booked)."""
    _require_admin(actor)
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"update_event() got unexpected fields: {sorted(unknown)}")
    with transaction():
        event = lock_event(event_id)
        if event is None:
            raise NotFound("Event not found.")
        if event.status == "cancelled":
            raise EventCancelled()
        starts_at = changes.get("starts_at", event.starts_at)
        ends_at = changes.get("ends_at", event.ends_at)
        if ends_at <= starts_at:
            field = "endsAt" if "ends_at" in changes else "startsAt"
            raise ValidationError(details={field: ["endsAt must be after startsAt."]})
        if changes.get("status") == "draft" and event.status == "published" and _has_holders(event_id):
            raise EventHasBookings()
        before = snapshot(event, changes)
        if "capacity" in changes:
            release.change_capacity(event, capacity=changes.pop("capacity"))
        if "waitlist_paused" in changes:
            release.set_waitlist_paused(event, paused=changes.pop("waitlist_paused"))
        for field in ("title", "venue"):
            if field in changes:
                changes[field] = changes[field].strip()
        for field, value in changes.items():
            setattr(event, field, value)
        event.revision += 1  # bookings decided on an older copy of the event are decided again
        Auditor(actor_id=actor.id).record(action="event.update", subject_type="event", subject_id=event.id,
                                          event_id=event.id, before=before, after=snapshot(event, before))
    admission.forget_event(event_id)  # this process's copy; the others' expire within EVENT_CACHE_SECONDS
    return present([event])[0]


def delete_event(*, actor, event_id):
    """Delete an event nobody ever booked or waited for; cancel any other (admin): its
    bookings and waiters are then cancelled and notified by a job.
    Raises Forbidden (non-admin), NotFound and EventCancelled (already cancelled)."""
    _require_admin(actor)
    removal = cancellation.remove_event(event_id=event_id, auditor=Auditor(actor_id=actor.id))
    if removal.deleted:
        return EventRemoval(event_id=event_id, deleted=True)
    event = db.session.get(Event, event_id)
    return EventRemoval(event_id=event_id, deleted=False, event=present([event])[0], cancellation_job=removal.job)


def cancellation_progress(*, actor, event_id):
    """The latest cancellation job of an event (admin). Raises Forbidden, NotFound."""
    _require_admin(actor)
    job = cancellation.latest_job(event_id=event_id)
    if job is None:
        raise NotFound("This event has no cancellation job.")
    return job


def _has_holders(event_id):
    """Confirmed bookings or waiting entries: people a silent unpublish would strand."""
    return db.session.scalar(select(
        exists().where(Booking.event_id == event_id, Booking.status == "confirmed")
        | exists().where(WaitlistEntry.event_id == event_id, WaitlistEntry.status == "waiting")))


# Built once (building it and its cache key per request was ~8% of a detail's CPU); only events without a
# seat gate need it, the gate keeps the number of waiters itself.
_WAITING_COUNTS = (select(WaitlistEntry.event_id, func.count())
                   .where(WaitlistEntry.event_id.in_(bindparam("event_ids", expanding=True)),
                          WaitlistEntry.status == "waiting")
                   .group_by(WaitlistEntry.event_id))


def present(events):
    """Views for a page of events: live seats and waitlist sizes from the gate in one
    pipelined call. Events without a gate (none built yet, Redis flushed or down) get
    them from PostgreSQL in one grouped query, and then show no seat as free while
    anyone waits: reads never build gates, and the gate built by the next booking or
    by reconcile says which waiters could take them."""
    events = list(events)
    if not events:
        return []
    live = gate.live_counts(event for event in events if event.status != "cancelled")
    unknown = [event.id for event in events if event.id not in live]
    waiting = dict(db.session.execute(_WAITING_COUNTS, {"event_ids": unknown}).all()) if unknown else {}
    return [_view(event, live.get(event.id), waiting.get(event.id, 0)) for event in events]


def _view(event, live, waiting_in_postgres):
    if live is not None:
        return EventView(event=event, available_seats=live.available, waitlist_count=live.waiting)
    free = event.capacity - event.booked_seats
    seats = 0 if event.status == "cancelled" or waiting_in_postgres else max(free, 0)
    return EventView(event=event, available_seats=seats, waitlist_count=waiting_in_postgres)


def escape_like(text):
    """Make user text match literally inside a LIKE pattern (escape character: backslash)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _now():
    return datetime.now(timezone.utc)


def _is_admin(user):
    return user is not None and user.is_admin


def _require_admin(user, message="Only administrators may do this."):
    if user is None:
        raise Unauthorized()
    if not user.is_admin:
        raise Forbidden(message)
