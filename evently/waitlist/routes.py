"""/api/waitlist (join, mine, leave) and the admin's /api/events/:id/waitlist."""
from flask_jwt_extended import current_user

from evently.auth.tokens import admin_required, auth_required
from evently.errors import AlreadyWaitlisted, EventNotBookable, EventStarted, NotFound, PerUserLimit, SeatsAvailable
from evently.http import CSV_RESPONSE, Blueprint, csv_response, document_errors, envelope, page_meta

from . import services
from .schemas import (MoveEntrySchema, PromoteSchema, PromotionReportSchema, QueueEntrySchema, QueueQuerySchema,
                      RemoveEntrySchema, WaitlistEntryDataSchema, WaitlistEntrySchema, WaitlistJoinSchema)

blp = Blueprint("waitlist", __name__, url_prefix="/api", description="Waitlist")


@blp.post("/waitlist")
@document_errors(NotFound, EventNotBookable, EventStarted, SeatsAvailable, AlreadyWaitlisted, PerUserLimit)
@auth_required
@blp.arguments(WaitlistJoinSchema)
@blp.response(201, envelope(WaitlistEntryDataSchema))
def join(body):
    """Join an event's waitlist. 409 SEATS_AVAILABLE when the seats can simply be booked."""
    entry = services.join_waitlist(user=current_user, **body)
    return {"message": f"Added to the waitlist at position {entry.position}.", "data": {"waitlist_entry": entry}}


@blp.get("/waitlist")
@auth_required
@blp.response(200, envelope(WaitlistEntrySchema, many=True))
def mine():
    """Your active waitlist entries with their live position (1 = next served)."""
    return {"message": "Your waitlist entries.", "data": services.my_entries(user=current_user)}


@blp.delete("/waitlist/<int:event_id>")
@auth_required
@blp.response(200, envelope(WaitlistEntryDataSchema, name="LeftWaitlistEnvelope"))
def leave(event_id):
    """Leave an event's waitlist; everyone behind moves up."""
    entry = services.leave_waitlist(user=current_user, event_id=event_id)
    return {"message": "Left the waitlist.", "data": {"waitlist_entry": entry}}


@blp.get("/events/<int:event_id>/waitlist")
@admin_required
@blp.arguments(QueueQuerySchema, location="query")
@blp.response(200, envelope(QueueEntrySchema, many=True, paginated=True))
def event_queue(query, event_id):
    """The event's whole queue, head first, with who waits and since when (admin)."""
    queue = services.event_queue(event_id=event_id, page=query["page"], per_page=query["per_page"])
    return {"message": "Waitlist.", "data": queue.entries,
            "meta": page_meta(page=query["page"], per_page=query["per_page"], total=queue.total)}


@blp.get("/events/<int:event_id>/waitlist.csv")
@admin_required
@blp.doc(responses={"200": CSV_RESPONSE})
def export_queue(event_id):
    """The event's whole queue as a CSV download, head first (admin), streamed."""
    rows = services.queue_rows(event_id=event_id)
    return csv_response(f"event-{event_id}-waitlist.csv", services.QUEUE_HEADER, rows)


@blp.delete("/events/<int:event_id>/waitlist/<int:entry_id>")
@admin_required
@blp.arguments(RemoveEntrySchema, required=False)
@blp.response(200, envelope(WaitlistEntryDataSchema, name="RemovedEntryEnvelope"))
def remove_entry(body, event_id, entry_id):
    """Take an entry off the queue (admin, audited); its user is notified and everyone behind moves up."""
    entry = services.remove_entry(actor=current_user, event_id=event_id, entry_id=entry_id, **(body or {}))
    return {"message": "Removed from the waitlist.", "data": {"waitlist_entry": entry}}


@blp.post("/events/<int:event_id>/waitlist/<int:entry_id>/move")
@admin_required
@blp.arguments(MoveEntrySchema)
@blp.response(200, envelope(WaitlistEntryDataSchema, name="MovedEntryEnvelope"))
def move_entry(body, event_id, entry_id):
    """Put a waiting entry at another place of the queue (admin, audited)."""
    entry = services.move_entry(actor=current_user, event_id=event_id, entry_id=entry_id, **body)
    return {"message": f"Moved to position {entry.position}.", "data": {"waitlist_entry": entry}}


@blp.post("/events/<int:event_id>/waitlist/promote")
@admin_required
@blp.arguments(PromoteSchema)
@blp.response(200, envelope(PromotionReportSchema))
def promote(body, event_id):
    """Hand out up to `seats` free seats to the queue now, in queue order, even while it is paused
    (admin, audited). Exactly once per seat, like every promotion."""
    report = services.promote(actor=current_user, event_id=event_id, **body)
    return {"message": f"Promoted {report.seats} seat(s) to {len(report.promotions)} waiting entr"
                       f"{'y' if len(report.promotions) == 1 else 'ies'}.", "data": report}
