"""Attendance per event: checked in, no-show rate once the event has ended, arrivals per 5 minutes."""
from datetime import datetime, timedelta, timezone

from sqlalchemy import text

from evently.extensions import db
from tests import factories
from tests.tickets.helpers import book, codes_of, scan


def test_attendance_counts_check_ins_and_no_shows_after_the_event(app_ctx, client, admin_headers):
    event = factories.make_event(capacity=20)
    staff = factories.auth_headers(factories.make_user(role="staff"))
    attendees = [factories.make_user() for _ in range(3)]
    ticket_codes = [code for person, quantity in zip(attendees, (2, 3, 1))
                    for code in codes_of(client, person, book(person, event, quantity).id)]
    admitted = [scan(client, staff, code).get_json()["data"]["ticketId"] for code in ticket_codes[:4]]
    client.delete(f"/api/checkins/{admitted[3]}", headers=staff)  # a mistaken scan, undone: not counted
    # Arrival times on known 5-minute marks: two at 18:01 and 18:04, one at 18:12.
    for ticket_id, at in zip(admitted, ("18:01", "18:04", "18:12")):
        db.session.execute(text("UPDATE checkins SET checked_in_at = :at WHERE ticket_id = :id"),
                           {"at": f"2030-05-01T{at}:00Z", "id": ticket_id})
    db.session.commit()
    url = f"/api/analytics/events/{event.id}/attendance"

    before = client.get(url, headers=admin_headers).get_json()["data"]

    assert before == {"eventId": event.id, "tickets": 6, "checkedIn": 3, "notCheckedIn": 3, "checkInRate": 0.5,
                      "noShowRate": None, "ended": False, "arrivals": [
                          {"start": "2030-05-01T18:00:00Z", "arrivals": 2},
                          {"start": "2030-05-01T18:10:00Z", "arrivals": 1}]}

    ended = datetime.now(timezone.utc) - timedelta(hours=1)
    db.session.execute(text("UPDATE events SET starts_at = :s, ends_at = :e WHERE id = :id"),
                       {"s": ended - timedelta(hours=3), "e": ended, "id": event.id})
    db.session.commit()
    after = client.get(url, headers=admin_headers).get_json()["data"]
    assert (after["ended"], after["noShowRate"], after["checkedIn"]) == (True, 0.5, 3)


def test_attendance_is_for_admins_and_known_events(app_ctx, client, admin_headers):
    event = factories.make_event()

    assert client.get("/api/analytics/events/987654/attendance", headers=admin_headers).status_code == 404
    assert client.get(f"/api/analytics/events/{event.id}/attendance?x=1", headers=admin_headers).status_code == 400
    empty = client.get(f"/api/analytics/events/{event.id}/attendance", headers=admin_headers).get_json()["data"]
    assert (empty["tickets"], empty["checkedIn"], empty["checkInRate"], empty["arrivals"]) == (0, 0, 0.0, [])
