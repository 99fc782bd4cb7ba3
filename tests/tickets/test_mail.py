"""Event time zones: the API keeps UTC, mails and calendar files speak local time; the confirmation carries the tickets."""
import email
import io
from datetime import timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
from PIL import Image
from pyzbar.pyzbar import ZBarSymbol, decode
from sqlalchemy import select

from evently.events.models import Event
from evently.extensions import db
from evently.notifications.models import Notification
from tests import factories
from tests.tickets.helpers import book, codes_of
from tests.waiting import wait_until

EVENT = {"title": "Opera Night", "venue": "Palais Garnier", "capacity": 10, "price": 30, "currency": "EUR",
         "startsAt": "2030-01-15T19:00:00Z", "endsAt": "2030-01-15T22:30:00Z", "status": "published"}


def test_an_event_keeps_its_iana_time_zone_and_the_api_keeps_utc(app_ctx, client, admin_headers):
    created = client.post("/api/events", json={**EVENT, "timezone": "Europe/Paris"}, headers=admin_headers)

    assert created.status_code == 201
    data = created.get_json()["data"]
    assert (data["timezone"], data["startsAt"]) == ("Europe/Paris", "2030-01-15T19:00:00Z")
    assert db.session.get(Event, data["id"]).timezone == "Europe/Paris"
    updated = client.put(f"/api/events/{data['id']}", json={"timezone": "America/New_York"}, headers=admin_headers)
    assert updated.get_json()["data"]["timezone"] == "America/New_York"
    default = client.post("/api/events", json=EVENT, headers=admin_headers).get_json()["data"]
    assert default["timezone"] == "UTC"


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "europe/paris", "", "+02:00", "../../etc/passwd", "x" * 65, 7])
def test_an_unknown_time_zone_is_a_400(app_ctx, client, admin_headers, zone):
    response = client.post("/api/events", json={**EVENT, "timezone": zone}, headers=admin_headers)

    assert response.status_code == 400
    assert "timezone" in response.get_json()["error"]["details"]


def test_mails_show_the_events_local_time(app_ctx, user):
    event = factories.make_event(zone="Asia/Tokyo")
    local = event.starts_at.astimezone(ZoneInfo("Asia/Tokyo"))

    book(user, event, 2)

    body = db.session.scalar(select(Notification.body).where(Notification.kind == "booking_confirmed"))
    assert f"on {local:%Y-%m-%d %H:%M} JST (Asia/Tokyo)." in body


def in_paris(moment):
    """iCalendar keeps whole seconds."""
    return moment.astimezone(ZoneInfo("Europe/Paris")).replace(microsecond=0)


def attachments(message):
    return {part.get_filename(): part for part in message.walk() if part.get_filename()}


@pytest.mark.worker
def test_the_confirmation_carries_every_ticket_as_a_qr_code_and_a_calendar_file(app_ctx, client, celery_worker,
                                                                                smtp_server):
    attendee = factories.make_user(email="ada@example.com")
    event = factories.make_event(title="Opera Night", venue="Palais Garnier", zone="Europe/Paris",
                                 starts_in=timedelta(days=40))
    booking = book(attendee, event, 2)
    codes = codes_of(client, attendee, booking.id)

    wait_until(lambda: smtp_server.messages_with("ada@example.com"), message="confirmation mailed")
    message = email.message_from_string(smtp_server.messages_with("ada@example.com")[0])
    files = attachments(message)

    assert sorted(files) == sorted([f"{booking.reference}-seat-1.png", f"{booking.reference}-seat-2.png",
                                    f"{booking.reference}.ics"])
    for seat, code in enumerate(codes, start=1):
        png = files[f"{booking.reference}-seat-{seat}.png"]
        assert png.get_content_type() == "image/png"
        image = Image.open(io.BytesIO(png.get_payload(decode=True))).convert("L")
        assert [symbol.data.decode() for symbol in decode(image, symbols=[ZBarSymbol.QRCODE])] == [code]
    ics = files[f"{booking.reference}.ics"]
    assert ics.get_content_type() == "text/calendar"
    calendar = icalendar.Calendar.from_ical(ics.get_payload(decode=True))
    (entry,) = calendar.events
    paris = ZoneInfo("Europe/Paris")
    assert (str(entry["summary"]), str(entry["location"])) == ("Opera Night", "Palais Garnier")
    assert (entry.start, entry.end) == (in_paris(event.starts_at), in_paris(event.ends_at))
    assert entry["dtstart"].params["TZID"] == "Europe/Paris"
    assert f"DTSTART;TZID=Europe/Paris:{event.starts_at.astimezone(paris):%Y%m%dT%H%M%S}" in \
        ics.get_payload(decode=True).decode()
    assert [timezone.tz_name for timezone in calendar.timezones] == ["Europe/Paris"]
    assert booking.reference in str(entry["description"])


@pytest.mark.worker
def test_a_mail_delivered_after_a_partial_cancellation_carries_only_valid_tickets(app_ctx, client, smtp_server):
    from evently.notifications import services

    attendee = factories.make_user(email="bob@example.com")
    booking = book(attendee, factories.make_event(), 3)
    client.post(f"/api/bookings/{booking.id}/cancel", json={"quantity": 2}, headers=factories.auth_headers(attendee))
    row = db.session.scalar(select(Notification).where(Notification.kind == "booking_confirmed"))

    assert services.deliver(notification_id=row.id).outcome == "sent"

    message = email.message_from_string(smtp_server.messages_with("Subject: Booking")[0])
    assert sorted(attachments(message)) == [f"{booking.reference}-seat-1.png", f"{booking.reference}.ics"]


def test_without_an_smtp_relay_no_qr_image_is_rendered(app_ctx, monkeypatch):
    """With no relay configured the mailer only logs the file names: the worker renders nothing
    (a flash sale's worker spent its CPU rendering QR images for mails never sent)."""
    from evently.notifications import services
    from evently.tickets import qr

    rendered = []
    real_render = qr.render
    monkeypatch.setattr(qr, "render", lambda *args: rendered.append(args) or real_render(*args))
    book(factories.make_user(), factories.make_event(), 3)
    row = db.session.scalar(select(Notification).where(Notification.kind == "booking_confirmed"))

    assert services.deliver(notification_id=row.id).outcome == "sent"
    assert rendered == []
