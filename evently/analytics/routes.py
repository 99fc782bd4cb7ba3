"""/api/analytics: admin-only reads over the rollup tables (plus the live delta since the last rollup)."""
import marshmallow as ma

from evently.auth.tokens import admin_required
from evently.errors import NotFound
from evently.http import Blueprint, document_errors, envelope

from . import services
from .schemas import (
    AttendanceSchema,
    EventPerformanceSchema,
    EventsQuerySchema,
    OverviewQuerySchema,
    OverviewSchema,
    RevenueQuerySchema,
    RevenueSeriesSchema,
    UserEngagementSchema,
    UsersQuerySchema,
)

blp = Blueprint("analytics", __name__, url_prefix="/api/analytics",
                description="Admin analytics. Booking numbers are exact as of the request: rollup rows kept by "
                            "Celery beat plus the bookings changed since the last rollup. Revenue is confirmed "
                            "bookings net of cancellations, bucketed by the UTC day the booking was created, "
                            "reported per currency (never converted).")


# webargs excludes unknown query keys by default; the contract rejects them. Auth runs first: 401/403 before 400.
@blp.get("/overview")
@admin_required
@blp.arguments(OverviewQuerySchema, location="query", unknown=ma.RAISE)
@blp.response(200, envelope(OverviewSchema))
def overview(_query):
    """Totals and rates: users, events, bookings, tickets, revenue per currency, cancellations,
    utilization, waitlists, unmet demand, promotions and time from freed seat to promotion."""
    return {"message": "Analytics overview.", "data": services.get_overview()}


@blp.get("/revenue")
@admin_required
@document_errors(NotFound)
@blp.arguments(RevenueQuerySchema, location="query", unknown=ma.RAISE, as_kwargs=True)
@blp.response(200, envelope(RevenueSeriesSchema))
def revenue(**query):
    """Net revenue, tickets and confirmed bookings per UTC day, ISO week (Monday) or month,
    per currency, zero-filled. `from` after `to`, or more buckets than the granularity
    allows, is 400; an unknown eventId is 404."""
    return {"message": "Revenue series.", "data": services.get_revenue_series(**query)}


@blp.get("/events")
@admin_required
@blp.arguments(EventsQuerySchema, location="query", unknown=ma.RAISE, as_kwargs=True)
@blp.response(200, envelope(EventPerformanceSchema, many=True))
def events(**query):
    """Per-event performance, best first: tickets sold, utilization, net revenue,
    cancellations, promotions and waitlist size."""
    return {"message": "Event performance.", "data": services.get_event_performance(**query)}


@blp.get("/users")
@admin_required
@blp.arguments(UsersQuerySchema, location="query", unknown=ma.RAISE, as_kwargs=True)
@blp.response(200, envelope(UserEngagementSchema))
def users(**query):
    """Engagement: registrations over time, bookers, active and repeat bookers, tickets per booker."""
    return {"message": "User engagement.", "data": services.get_user_engagement(**query)}


@blp.get("/events/<int:event_id>/attendance")
@admin_required
@blp.arguments(OverviewQuerySchema, location="query", unknown=ma.RAISE)
@blp.response(200, envelope(AttendanceSchema))
def attendance(_query, event_id):
    """Check-in at the door for one event, live: tickets, checked in, the no-show rate once the
    event has ended, and arrivals per 5 minutes."""
    return {"message": "Attendance.", "data": services.get_event_attendance(event_id=event_id)}
