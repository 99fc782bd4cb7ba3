"""/api/events."""
from evently.http import Blueprint

blp = Blueprint("events", __name__, url_prefix="/api/events", description="events")
