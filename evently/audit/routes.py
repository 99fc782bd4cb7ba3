"""/api/events/:id/audit: who changed what, when, and why (admin)."""
from evently.auth.tokens import admin_required
from evently.http import Blueprint, envelope, page_meta

from . import services
from .schemas import AuditEntrySchema, AuditQuerySchema

blp = Blueprint("audit", __name__, url_prefix="/api/events", description="Audit log")


@blp.get("/<int:event_id>/audit")
@admin_required
@blp.arguments(AuditQuerySchema, location="query")
@blp.response(200, envelope(AuditEntrySchema, many=True, paginated=True))
def event_log(query, event_id):
    """Every admin change of the event, its bookings and its queue, newest first (admin). A deleted
    event's log stays readable; an event that never existed is 404."""
    entries, total = services.event_log(event_id=event_id, **query)
    return {"message": "Audit log.", "data": entries,
            "meta": page_meta(page=query["page"], per_page=query["per_page"], total=total)}
