"""The staff role: created by admins the way admins are; checks in and reads attendee lists, nothing else."""
import pytest
from sqlalchemy import select

from evently.auth.models import User
from evently.extensions import db
from tests import factories

ACCOUNT = {"email": "door@example.com", "password": "correct-horse-battery", "name": "Door"}


def test_an_admin_creates_a_staff_account_that_can_log_in(app_ctx, client, admin_headers):
    response = client.post("/api/auth/create-staff", json=ACCOUNT, headers=admin_headers)

    assert response.status_code == 201
    assert response.get_json()["data"]["user"]["role"] == "staff"
    assert db.session.scalar(select(User.role).where(User.email == "door@example.com")) == "staff"
    login = client.post("/api/auth/login", json={"email": ACCOUNT["email"], "password": ACCOUNT["password"]})
    assert login.status_code == 200 and login.get_json()["data"]["user"]["role"] == "staff"
    assert client.post("/api/auth/create-staff", json=ACCOUNT, headers=admin_headers).status_code == 409


def test_only_admins_create_staff(app_ctx, client):
    staff = factories.auth_headers(factories.make_user(role="staff"))
    user = factories.auth_headers(factories.make_user())

    assert client.post("/api/auth/create-staff", json=ACCOUNT, headers=staff).status_code == 403
    assert client.post("/api/auth/create-staff", json=ACCOUNT, headers=user).status_code == 403
    assert client.post("/api/auth/create-staff", json=ACCOUNT).status_code == 401


def test_flask_create_staff(app, app_ctx):
    result = app.test_cli_runner().invoke(args=["create-staff", "--email", "Gate@Example.com", "--name", "Gate"],
                                          input="correct-horse-battery\ncorrect-horse-battery\n")

    assert result.exit_code == 0, result.output
    assert "staff gate@example.com ready" in result.output
    assert db.session.scalar(select(User.role).where(User.email == "gate@example.com")) == "staff"


def test_staff_read_attendee_lists(app_ctx, client):
    event = factories.make_event()
    staff = factories.auth_headers(factories.make_user(role="staff"))

    assert client.get(f"/api/events/{event.id}/attendees", headers=staff).status_code == 200
    assert client.get(f"/api/events/{event.id}/attendees.csv", headers=staff).status_code == 200
    user = factories.auth_headers(factories.make_user())
    assert client.get(f"/api/events/{event.id}/attendees", headers=user).status_code == 403


@pytest.mark.parametrize("method, path", [
    ("post", "/api/events"),
    ("put", "/api/events/{event}"),
    ("delete", "/api/events/{event}"),
    ("get", "/api/events/{event}/cancellation"),
    ("get", "/api/events/{event}/waitlist"),
    ("get", "/api/events/{event}/waitlist.csv"),
    ("post", "/api/events/{event}/waitlist/promote"),
    ("get", "/api/events/{event}/audit"),
    ("get", "/api/analytics/overview"),
    ("get", "/api/analytics/events/{event}/attendance"),
    ("post", "/api/auth/create-admin"),
    ("post", "/api/auth/create-staff"),
])
def test_staff_can_do_nothing_else_an_admin_can(app_ctx, client, method, path):
    event = factories.make_event()
    staff = factories.make_user(role="staff")

    response = getattr(client, method)(path.format(event=event.id), json={"seats": 1} if method != "get" else None,
                                       headers=factories.auth_headers(staff))

    assert response.status_code == 403, response.get_json()


def test_staff_see_no_one_elses_booking_and_no_draft(app_ctx, client):
    owner = factories.make_user()
    event = factories.make_event()
    booking = client.post("/api/bookings", json={"eventId": event.id, "quantity": 1},
                          headers=factories.auth_headers(owner)).get_json()["data"]["booking"]
    staff = factories.auth_headers(factories.make_user(role="staff"))

    assert client.get(f"/api/bookings/{booking['id']}", headers=staff).status_code == 404
    assert client.get(f"/api/bookings/{booking['id']}/tickets", headers=staff).status_code == 404
    draft = factories.make_event(status="draft")
    assert client.get(f"/api/events/{draft.id}", headers=staff).status_code == 404
