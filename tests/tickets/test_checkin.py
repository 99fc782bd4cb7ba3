"""Check-in at the door: admits once, says who was first, refuses void tickets, survives retries and a dead Redis."""
import threading
import time

import pytest
from sqlalchemy import func, select, text

from evently.audit.models import AuditEntry
from evently.extensions import db
from evently.tickets import services
from evently.tickets.models import CheckIn
from tests import factories
from tests.tickets.helpers import book, codes_of, scan
from tests.variants import DEAD_REDIS, other_app


@pytest.fixture
def door(app_ctx):
    return factories.make_user(role="staff", name="Door One", email="door1@example.com")


def test_the_first_scan_admits_and_every_later_one_says_when_and_by_whom(app_ctx, client, door):
    attendee = factories.make_user(name="Ada")
    booking = book(attendee, factories.make_event(), 3)
    code = codes_of(client, attendee, booking.id)[1]
    headers = factories.auth_headers(door)

    first = scan(client, headers, code)

    assert first.status_code == 201
    body = first.get_json()
    assert body["message"] == "Welcome, Ada: seat 2 of 3."
    assert {key: body["data"][key] for key in ("name", "quantity", "seatIndex", "bookingReference", "checkedInBy")} == {
        "name": "Ada", "quantity": 3, "seatIndex": 2, "bookingReference": booking.reference,
        "checkedInBy": {"id": door.id, "name": "Door One"}}
    row = db.session.scalar(select(CheckIn))
    assert (row.scanned_by_id, row.undone_at) == (door.id, None)

    again = scan(client, factories.auth_headers(factories.make_user(role="admin", name="Boss")), code)

    assert again.status_code == 409
    error = again.get_json()["error"]
    assert error["code"] == "ALREADY_CHECKED_IN"
    assert error["details"] == {"ticketId": body["data"]["ticketId"], "seatIndex": 2,
                                "checkedInAt": body["data"]["checkedInAt"],
                                "checkedInBy": {"id": door.id, "name": "Door One"}}
    assert "by Door One" in again.get_json()["message"]
    assert db.session.scalar(select(func.count()).select_from(CheckIn)) == 1
    listed = client.get(f"/api/bookings/{booking.id}/tickets", headers=factories.auth_headers(attendee))
    assert [ticket["checkedInAt"] for ticket in listed.get_json()["data"]] == [None, body["data"]["checkedInAt"], None]


def test_a_scanners_retry_with_the_same_request_id_gets_the_same_201(app_ctx, client, door):
    attendee = factories.make_user()
    code = codes_of(client, attendee, book(attendee, factories.make_event(), 1).id)[0]
    headers = factories.auth_headers(door)

    first = scan(client, headers, code, request_id="scanner-7.scan-0042")
    retry = scan(client, headers, code, request_id="scanner-7.scan-0042")

    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.get_json() == first.get_json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.headers["X-Request-ID"] == "scanner-7.scan-0042"
    # Another scan by the same scanner, or the same request id from another scanner, is a second scan.
    assert scan(client, headers, code, request_id="scanner-7.scan-0043").status_code == 409
    other = factories.auth_headers(factories.make_user(role="staff"))
    assert scan(client, other, code, request_id="scanner-7.scan-0042").status_code == 409
    assert db.session.scalar(select(func.count()).select_from(CheckIn)) == 1


def test_a_cancelled_seats_code_is_refused_as_void(app_ctx, client, door, admin_headers):
    attendee = factories.make_user()
    event = factories.make_event()
    booking = book(attendee, event, 2)
    first, second = codes_of(client, attendee, booking.id)
    client.post(f"/api/bookings/{booking.id}/cancel", json={"quantity": 1}, headers=factories.auth_headers(attendee))
    headers = factories.auth_headers(door)

    refused = scan(client, headers, second)

    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "TICKET_VOID"
    assert scan(client, headers, first).status_code == 201

    other = factories.make_user()
    kept = codes_of(client, other, book(other, event, 1).id)[0]
    client.delete(f"/api/events/{event.id}", headers=admin_headers)  # cancelled; its job has not run yet
    assert scan(client, headers, kept).get_json()["error"]["code"] == "TICKET_VOID"
    assert db.session.scalar(select(func.count()).select_from(CheckIn)) == 1


def test_only_staff_and_admins_check_in(app_ctx, client, admin_headers):
    attendee = factories.make_user()
    code = codes_of(client, attendee, book(attendee, factories.make_event(), 1).id)[0]

    assert scan(client, factories.auth_headers(attendee), code).status_code == 403
    assert client.post("/api/checkins", json={"code": code}).status_code == 401
    assert scan(client, admin_headers, code).status_code == 201


def test_undoing_a_mistaken_scan_is_audited_and_lets_the_ticket_in_again(app_ctx, client, door):
    attendee = factories.make_user()
    event = factories.make_event()
    code = codes_of(client, attendee, book(attendee, event, 1).id)[0]
    headers = factories.auth_headers(door)
    ticket_id = scan(client, headers, code).get_json()["data"]["ticketId"]

    undone = client.delete(f"/api/checkins/{ticket_id}", json={"reason": "Scanned the wrong phone"}, headers=headers)

    assert undone.status_code == 200
    assert undone.get_json()["data"]["ticketId"] == ticket_id
    entry = db.session.scalar(select(AuditEntry))
    assert (entry.actor_id, entry.action, entry.subject_type, entry.subject_id, entry.event_id, entry.reason) == (
        door.id, "checkin.undo", "ticket", ticket_id, event.id, "Scanned the wrong phone")
    assert entry.after == {"checkedIn": False} and entry.before["checkedInBy"] == door.id
    assert client.delete(f"/api/checkins/{ticket_id}", headers=headers).status_code == 404  # nothing left to undo
    assert scan(client, headers, code).status_code == 201
    rows = db.session.execute(select(CheckIn.undone_by_id, CheckIn.undone_at.is_(None)).order_by(CheckIn.id)).all()
    assert rows == [(door.id, False), (None, True)]
    assert client.delete(f"/api/checkins/{ticket_id}",
                         headers=factories.auth_headers(attendee)).status_code == 403


def test_check_in_works_while_redis_is_down(app, app_ctx, door):
    attendee = factories.make_user(name="Grace")
    event = factories.make_event()
    booking = book(attendee, event, 2)
    first, second = services.list_tickets(actor=attendee, booking_id=booking.id)
    headers = factories.auth_headers(door)
    with other_app(app, REDIS_URL=DEAD_REDIS, RATELIMIT_STORAGE_URI=DEAD_REDIS, RATELIMIT_ENABLED=True,
                   CELERY={"broker_url": DEAD_REDIS, "result_backend": DEAD_REDIS}) as dead:
        client = dead.test_client()
        # The control: this app's Redis really is gone, so a booking cannot be taken.
        refused = client.post("/api/bookings", json={"eventId": event.id, "quantity": 1},
                              headers=factories.auth_headers(attendee))
        assert refused.status_code == 503

        admitted = scan(client, headers, first.code)
        again = scan(client, headers, first.code)
        undone = client.delete(f"/api/checkins/{first.id}", headers=headers)
        readmitted = scan(client, headers, first.code)

    assert (admitted.status_code, again.status_code, undone.status_code, readmitted.status_code) == (201, 409, 200, 201)
    assert admitted.get_json()["data"]["name"] == "Grace"


def scan_together(app, tokens, code):
    """Every token scans `code` at the same instant (one thread each); returns their statuses."""
    barrier = threading.Barrier(len(tokens))
    statuses = [None] * len(tokens)

    def scanner(index):
        client = app.test_client()
        barrier.wait()
        statuses[index] = scan(client, {"Authorization": f"Bearer {tokens[index]}"}, code).status_code

    threads = [threading.Thread(target=scanner, args=(index,)) for index in range(len(tokens))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return sorted(statuses)


SCANNERS = 12


@pytest.mark.race
def test_scanners_racing_on_one_code_admit_it_exactly_once(app, app_ctx):
    attendee = factories.make_user()
    code = codes_of(app.test_client(), attendee, book(attendee, factories.make_event(), 1).id)[0]
    tokens = [factories.access_token(factories.make_user(role="staff")) for _ in range(SCANNERS)]

    for _round in range(3):
        statuses = scan_together(app, tokens, code)

        assert statuses == [201] + [409] * (SCANNERS - 1)
        live = db.session.execute(select(CheckIn.id).where(CheckIn.undone_at.is_(None))).all()
        assert len(live) == 1
        db.session.execute(text("UPDATE checkins SET undone_at = now()"))
        db.session.commit()


def unsafe_admit(fields, scanner, request_id):
    """The door without its arbiter: look for a live check-in, then insert one (no unique index)."""
    connection = db.session.connection()
    ticket = connection.execute(services._TICKET, {"ticket_id": fields.ticket_id}).first()
    seen = connection.execute(text("SELECT 1 FROM checkins WHERE ticket_id = :id AND undone_at IS NULL"),
                              {"id": ticket.id}).first()
    if seen is not None:
        raise services.AlreadyCheckedIn()
    time.sleep(0.05)  # the window every check-then-insert has, widened
    at = connection.execute(text("""INSERT INTO checkins (ticket_id, event_id, scanned_by_id, request_id)
                                    VALUES (:t, :e, :s, :r) RETURNING checked_in_at"""),
                            {"t": ticket.id, "e": ticket.event_id, "s": scanner.id, "r": request_id}).scalar()
    return services._admitted(ticket, at, {"id": scanner.id, "name": None})


@pytest.mark.race
def test_negative_control_without_the_unique_live_check_in_two_scanners_both_get_in(app, app_ctx, monkeypatch):
    attendee = factories.make_user()
    code = codes_of(app.test_client(), attendee, book(attendee, factories.make_event(), 1).id)[0]
    tokens = [factories.access_token(factories.make_user(role="staff")) for _ in range(SCANNERS)]
    db.session.execute(text("DROP INDEX uq_checkins_live_ticket"))
    db.session.commit()
    monkeypatch.setattr(services, "_admit", unsafe_admit)
    try:
        statuses = scan_together(app, tokens, code)
    finally:
        db.session.rollback()
        db.session.execute(text("DELETE FROM checkins"))
        db.session.execute(text("CREATE UNIQUE INDEX uq_checkins_live_ticket ON checkins (ticket_id) "
                                "WHERE undone_at IS NULL"))
        db.session.commit()

    assert statuses.count(201) > 1, statuses
