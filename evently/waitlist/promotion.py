"""Hook for serving the waitlist when seats are freed (cancellation, capacity raise, reconcile).

The promotion task itself is built in the waitlist issue; callers already call
`request_promotion(event_id)` after their transaction commits.
"""


def request_promotion(event_id):
    """Ask for the event's waitlist to be served from its freed seats (after commit)."""
    return None
