"""/api/events: public browsing and the admin event lifecycle."""
from decimal import Decimal

import marshmallow as ma
from flask_jwt_extended import current_user

from evently.auth.tokens import admin_required, door_required, optional_user
from evently.errors import CapacityBelowBooked, EventCancelled, EventHasBookings, Forbidden, Unauthorized
from evently.http import CSV_RESPONSE, Blueprint, csv_response, document_errors, envelope, page_meta

from . import attendees, list_cache, services
from .schemas import (AttendeeExportQuerySchema, AttendeeQuerySchema, AttendeeSchema, EventCreateSchema,
                      EventQuerySchema, EventRemovalSchema, EventSchema, EventUpdateSchema, JobSchema)

blp = Blueprint("events", __name__, url_prefix="/api/events", description="events")


@blp.get("")
@document_errors(Unauthorized, Forbidden)  # `status` is for admins; a bad token is refused
@list_cache.serve_public_page  # before the parsing: a hit skips it
# webargs excludes unknown query keys by default; the contract rejects them.
@blp.arguments(EventQuerySchema, location="query", unknown=ma.RAISE, as_kwargs=True)
@blp.response(200, envelope(EventSchema, many=True, paginated=True))
def list_events(**query):
    """Published, upcoming events (public).

    `from` defaults to now; pass an earlier `from` to see past events. `q` matches
    a case-insensitive substring of the title or description; `venue` is a
    case-insensitive exact match. `status` (draft|published|cancelled|all) is for
    admins only: 401 without a token, 403 with a non-admin token. The public list
    may be up to EVENT_LIST_CACHE_SECONDS (1 s) behind; an event's own page is live."""
    page = services.list_events(viewer=optional_user(), **query)
    return {"message": "Events.", "data": page.items,
            "meta": page_meta(page=page.page, per_page=page.per_page, total=page.total)}


@blp.get("/<int:event_id>")
@document_errors(Unauthorized)  # a bad token is refused
@blp.response(200, envelope(EventSchema))
def get_event(event_id):
    """One event: published ones for everyone, any status for admins; otherwise 404."""
    return {"message": "Event.", "data": services.get_event(viewer=optional_user(), event_id=event_id)}


@blp.post("")
@admin_required
@blp.arguments(EventCreateSchema)
@blp.response(201, envelope(EventSchema))
def create_event(body):
    """Create an event (admin). Status defaults to draft, currency to USD."""
    return {"message": "Event created.", "data": services.create_event(actor=current_user, **body)}


@blp.put("/<int:event_id>")
@document_errors(EventCancelled, EventHasBookings, CapacityBelowBooked)
@admin_required
# A partial update, as a client sends one (Swagger UI would otherwise send every field's example).
@blp.arguments(EventUpdateSchema, example={"capacity": 150, "price": Decimal("30.00")})
@blp.response(200, envelope(EventSchema))
def update_event(body, event_id):
    """Partially update an event (admin). Raising capacity promotes the waitlist;
    lowering it below the booked seats is 409 CAPACITY_BELOW_BOOKED; a cancelled
    event is 409 EVENT_CANCELLED."""
    return {"message": "Event updated.", "data": services.update_event(actor=current_user, event_id=event_id, **body)}


@blp.delete("/<int:event_id>")
@document_errors(EventCancelled)
@admin_required
@blp.response(200, envelope(EventRemovalSchema))
def delete_event(event_id):
    """Delete an event that has no bookings (`data: {id, deleted: true}`), or cancel
    one that has (`data`: the cancelled event). Already cancelled: 409 EVENT_CANCELLED."""
    removal = services.delete_event(actor=current_user, event_id=event_id)
    if removal.deleted:
        return {"message": "Event deleted.", "data": {"id": removal.event_id, "deleted": True}}
    return {"message": "Event cancelled; its bookings are being cancelled and everyone notified.",
            "data": removal}


@blp.get("/<int:event_id>/cancellation")
@admin_required
@blp.response(200, envelope(JobSchema, name="CancellationJobEnvelope"))
def cancellation_progress(event_id):
    """Progress of the job cancelling this event's bookings and waiters (admin)."""
    job = services.cancellation_progress(actor=current_user, event_id=event_id)
    return {"message": f"Cancellation {job.status}: {job.done} of {job.total}.", "data": job}


@blp.get("/<int:event_id>/attendees")
@door_required
@blp.arguments(AttendeeQuerySchema, location="query")
@blp.response(200, envelope(AttendeeSchema, many=True, paginated=True))
def list_attendees(query, event_id):
    """The event's bookings with their holders' names and emails (staff or admin), in booking order."""
    rows, total = attendees.list_attendees(event_id=event_id, **query)
    return {"message": "Attendees.", "data": rows,
            "meta": page_meta(page=query["page"], per_page=query["per_page"], total=total)}


@blp.get("/<int:event_id>/attendees.csv")
@door_required
@blp.arguments(AttendeeExportQuerySchema, location="query")
@blp.doc(responses={"200": CSV_RESPONSE})
def export_attendees(query, event_id):
    """Every booking of the event as a CSV download (staff or admin), streamed: any size."""
    rows = attendees.attendee_rows(event_id=event_id, **query)
    return csv_response(f"event-{event_id}-attendees.csv", attendees.HEADER, rows)
