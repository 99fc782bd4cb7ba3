"""The audit log: every admin change of an event, its bookings and its queue, one entry each,
written in the change's own transaction, listed per event."""
import pytest
from sqlalchemy import func, select

from evently.audit.models import AuditEntry
from evently.bookings import services as bookings
from evently.extensions import db
from evently.seats import release
from tests import factories

EVENT = {"title": "Gala", "venue": "Hall", "startsAt": "2030-01-01T19:00:00Z", "endsAt": "2030-01-01T22:00:00Z",
         "capacity": 3, "price": 5, "status": "published"}


def test_an_events_changes_are_listed_newest_first_with_who_made_them(client, admin, admin_headers):
    event_id = client.post("/api/events", json=EVENT, headers=admin_headers).get_json()["data"]["id"]
    client.put(f"/api/events/{event_id}", json={"capacity": 4, "waitlistPaused": True}, headers=admin_headers)
    holder = factories.make_user()
    booking = bookings.book_seats(user=holder, event_id=event_id, quantity=4).booking
    waiter = factories.make_user()
    entry = bookings.book_seats(user=waiter, event_id=event_id, quantity=2).waitlist_entry
    client.post(f"/api/events/{event_id}/waitlist/{entry.id}/move", json={"position": 1, "reason": "Press"},
                headers=admin_headers)
    client.delete(f"/api/bookings/{booking.id}", headers=admin_headers)
    client.delete(f"/api/events/{event_id}/waitlist/{entry.id}", json={"reason": "Asked to"}, headers=admin_headers)
    client.delete(f"/api/events/{event_id}", headers=admin_headers)

    response = client.get(f"/api/events/{event_id}/audit", headers=admin_headers)

    assert response.status_code == 200
    rows = response.get_json()["data"]
    assert [row["action"] for row in rows] == ["event.cancel", "waitlist.remove", "booking.cancel", "waitlist.move",
                                               "event.update", "event.create"]
    assert {row["actorName"] for row in rows} == {admin.name}
    update = rows[4]
    assert (update["before"], update["after"]) == ({"capacity": 3, "waitlist_paused": False},
                                                   {"capacity": 4, "waitlist_paused": True})
    assert rows[1]["reason"] == "Asked to" and rows[3]["reason"] == "Press"
    assert response.get_json()["meta"]["total"] == 6


def test_the_audit_log_is_for_admins(client, admin_headers, user_headers):
    event = factories.make_event()
    assert client.get(f"/api/events/{event.id}/audit", headers=user_headers).status_code == 403
    assert client.get(f"/api/events/{event.id}/audit").status_code == 401
    assert client.get(f"/api/events/{event.id}/audit", headers=admin_headers).get_json()["data"] == []


def test_an_unknown_events_log_is_404_a_deleted_ones_stays_readable(client, admin_headers):
    event_id = client.post("/api/events", json=EVENT, headers=admin_headers).get_json()["data"]["id"]
    assert client.delete(f"/api/events/{event_id}", headers=admin_headers).get_json()["data"]["deleted"] is True

    deleted = client.get(f"/api/events/{event_id}/audit", headers=admin_headers)
    unknown = client.get(f"/api/events/{event_id + 1}/audit", headers=admin_headers)

    assert [row["action"] for row in deleted.get_json()["data"]] == ["event.delete", "event.create"]
    assert (unknown.status_code, unknown.get_json()["error"]["code"]) == (404, "NOT_FOUND")


def test_an_entry_commits_with_its_change_or_not_at_all(app_ctx, admin):
    """A change that fails leaves no entry behind: the entry is in the change's transaction."""
    from evently.audit.log import Auditor
    from evently.errors import NotFound

    event = factories.make_event()
    with pytest.raises(NotFound):
        release.remove_entry(event_id=event.id, entry_id=424242, auditor=Auditor(admin.id, "gone"))
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == 0


def test_a_users_own_cancellation_is_not_an_admin_change(client, app_ctx, user, user_headers):
    event = factories.make_event(capacity=5)
    booking = bookings.book_seats(user=user, event_id=event.id, quantity=2).booking
    assert client.delete(f"/api/bookings/{booking.id}", headers=user_headers).status_code == 200
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == 0
