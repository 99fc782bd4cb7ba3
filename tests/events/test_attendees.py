"""An event's attendees for its organiser: paginated JSON, a streamed CSV, and counts that agree with analytics."""
import csv
import io

from evently.bookings import services as bookings
from evently.extensions import db
from tests import factories


def attendees(client, headers, event_id, query=""):
    return client.get(f"/api/events/{event_id}/attendees{query}", headers=headers)


def booked_event():
    event = factories.make_event(capacity=20)
    ada = factories.make_user(name="Ada", email="ada@example.com")
    bob = factories.make_user(name="=HYPERLINK(\"http://x\")", email="bob@example.com")
    first = bookings.book_seats(user=ada, event_id=event.id, quantity=3).booking
    second = bookings.book_seats(user=bob, event_id=event.id, quantity=2).booking
    bookings.cancel_booking(actor=bob, booking_id=second.id)
    return event, first, second


def test_attendees_are_listed_with_names_emails_and_filters(client, admin_headers):
    event, first, second = booked_event()

    page = attendees(client, admin_headers, event.id, "?perPage=1").get_json()
    confirmed = attendees(client, admin_headers, event.id, "?status=confirmed").get_json()

    assert page["meta"] == {"page": 1, "perPage": 1, "total": 2, "pages": 2}
    assert page["data"] == [{"bookingReference": first.reference, "name": "Ada", "email": "ada@example.com",
                             "quantity": 3, "status": "confirmed", "source": "direct",
                             "bookedAt": page["data"][0]["bookedAt"]}]
    assert page["data"][0]["bookedAt"].endswith("Z")
    assert [row["bookingReference"] for row in confirmed["data"]] == [first.reference]


def test_attendees_are_for_admins_of_an_existing_event(client, admin_headers, user_headers):
    event, *_ = booked_event()
    assert attendees(client, user_headers, event.id).status_code == 403
    assert attendees(client, {}, event.id).status_code == 401
    assert attendees(client, admin_headers, 424242).status_code == 404
    assert attendees(client, admin_headers, event.id, "?status=maybe").status_code == 400


def test_the_attendee_export_is_a_csv_download_safe_to_open_in_a_spreadsheet(client, admin_headers):
    event, first, second = booked_event()

    response = client.get(f"/api/events/{event.id}/attendees.csv", headers=admin_headers)

    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.is_streamed
    assert response.headers["Content-Disposition"] == f'attachment; filename="event-{event.id}-attendees.csv"'
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["bookingReference", "name", "email", "quantity", "status", "source", "bookedAt"]
    assert [row[:5] for row in rows[1:]] == [[first.reference, "Ada", "ada@example.com", "3", "confirmed"],
                                              [second.reference, "'=HYPERLINK(\"http://x\")", "bob@example.com", "2",
                                               "cancelled"]]
    assert client.get(f"/api/events/{event.id}/attendees.csv?status=cancelled",
                      headers=admin_headers).get_data(as_text=True).count("\n") == 2


def test_attendee_counts_agree_with_analytics(client, admin_headers):
    event, *_ = booked_event()
    rows = attendees(client, admin_headers, event.id, "?status=confirmed&perPage=100").get_json()["data"]

    performance = client.get("/api/analytics/events?limit=100", headers=admin_headers).get_json()["data"]
    mine = next(item for item in performance if item["eventId"] == event.id)

    assert sum(row["quantity"] for row in rows) == mine["ticketsSold"]


def test_the_export_streams_after_the_requests_own_session_is_gone(app, client):
    """Outside a test's app context, as under gunicorn: the request's session is removed when the
    view returns, before the body is read, so the rows must be read inside the stream."""
    with app.app_context():
        event, first, second = booked_event()
        event_id, headers = event.id, factories.auth_headers(factories.make_user(role="admin"))
        expected = {first.reference, second.reference}
        db.session.remove()

    for path in (f"/api/events/{event_id}/attendees.csv", f"/api/events/{event_id}/waitlist.csv"):
        response = client.get(path, headers=headers)
        body = response.get_data(as_text=True)
        assert response.status_code == 200, body
    rows = list(csv.reader(io.StringIO(client.get(f"/api/events/{event_id}/attendees.csv",
                                                  headers=headers).get_data(as_text=True))))
    assert {row[0] for row in rows[1:]} == expected
