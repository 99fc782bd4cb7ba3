"""Calendar files (.ics, RFC 5545, by the icalendar library) for a booking: the event in its own time zone."""
from datetime import timedelta

import icalendar

from evently.common import localtime
from evently.common.models import utcnow

PRODUCT = "-//Evently//Tickets//EN"
MEDIA_TYPE = "text/calendar"


def booking_calendar(*, booking_reference, booking_id, quantity, event):
    """A VCALENDAR with one VEVENT: title, venue, start and end in the event's time zone
    (with its VTIMEZONE), the booking's reference and seat count. Returns bytes."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODUCT)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    entry = icalendar.Event()
    entry.add("uid", f"booking-{booking_id}@evently")
    entry.add("dtstamp", utcnow())
    entry.add("dtstart", localtime.local(event.starts_at, event.timezone))
    entry.add("dtend", localtime.local(event.ends_at, event.timezone))
    entry.add("summary", event.title)
    entry.add("location", event.venue)
    entry.add("description", f"Booking {booking_reference}: {quantity} ticket(s).")
    calendar.add_component(entry)
    # Only the years around the event: the zone's whole history would make every mail heavier.
    calendar.add_missing_timezones(first_date=(event.starts_at - timedelta(days=366)).date(),
                                   last_date=(event.ends_at + timedelta(days=366)).date())
    return calendar.to_ical()
