"""/api/waitlist (join, mine, leave) and the admin's /api/events/:id/waitlist."""
from flask_jwt_extended import current_user

from evently.auth.tokens import admin_required, auth_required
from evently.http import Blueprint, document_errors, envelope, page_meta

from . import services
from .schemas import QueueEntrySchema, QueueQuerySchema, WaitlistEntryDataSchema, WaitlistEntrySchema, WaitlistJoinSchema

blp = Blueprint("waitlist", __name__, url_prefix="/api", description="Waitlist")


@blp.post("/waitlist")
@document_errors(404, 409)
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
    """The event's whole queue, head first (admin)."""
    queue = services.event_queue(event_id=event_id, page=query["page"], per_page=query["per_page"])
    return {"message": "Waitlist.", "data": queue.entries,
            "meta": page_meta(page=query["page"], per_page=query["per_page"], total=queue.total)}
