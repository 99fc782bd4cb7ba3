"""An organiser acting on a queue: the queue view and its export, removing and moving entries,
pausing and resuming promotion, promoting by hand; each audited in its own transaction."""
import csv
import io
import threading

import pytest
from sqlalchemy import func, select

from evently.audit.log import Auditor
from evently.audit.models import AuditEntry
from evently.bookings import services as bookings
from evently.bookings.models import Booking
from evently.extensions import db
from evently.notifications.models import Notification
from evently.seats import gate, promotion
from evently.seats.admission import position_of
from evently.waitlist.models import WaitlistEntry
from tests import factories
from tests.waiting import wait_until


def sold_out_with_waiters(capacity=3, wants=(2, 1, 3), strict=False, **event):
    """A sold-out event (one holder) and waiters joined in order; returns (event, holder, holding, waiters)."""
    event = factories.make_event(capacity=capacity, **event)
    holder = factories.make_user(name="Holder")
    holding = bookings.book_seats(user=holder, event_id=event.id, quantity=capacity).booking
    waiters = []
    for index, quantity in enumerate(wants):
        waiter = factories.make_user(name=f"Waiter {index}", email=f"waiter{index}.{event.id}@example.com")
        waiters.append((waiter, bookings.book_seats(user=waiter, event_id=event.id, quantity=quantity,
                                                    allow_partial=not strict).waitlist_entry))
    return event, holder, holding, waiters


def queue(client, admin_headers, event_id):
    response = client.get(f"/api/events/{event_id}/waitlist", headers=admin_headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["data"]


def audit_actions(event_id):
    return db.session.scalars(select(AuditEntry.action).where(AuditEntry.event_id == event_id)
                              .order_by(AuditEntry.id)).all()


def test_the_queue_view_says_who_waits_for_what_and_since_when(client, admin_headers):
    event, _holder, _holding, waiters = sold_out_with_waiters()

    rows = queue(client, admin_headers, event.id)

    assert [(row["position"], row["name"], row["email"], row["quantity"], row["allowPartial"]) for row in rows] == [
        (1, "Waiter 0", f"waiter0.{event.id}@example.com", 2, True),
        (2, "Waiter 1", f"waiter1.{event.id}@example.com", 1, True),
        (3, "Waiter 2", f"waiter2.{event.id}@example.com", 3, True)]
    assert all(row["joinedAt"].endswith("Z") and row["waitedSeconds"] >= 0 for row in rows)


def test_the_queue_exports_as_csv(client, admin_headers, user_headers):
    event, *_ = sold_out_with_waiters()

    response = client.get(f"/api/events/{event.id}/waitlist.csv", headers=admin_headers)

    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == f'attachment; filename="event-{event.id}-waitlist.csv"'
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["position", "name", "email", "quantity", "quantityRequested", "allowPartial", "joinedAt",
                       "waitedSeconds"]
    assert [(row[0], row[1], row[3]) for row in rows[1:]] == [("1", "Waiter 0", "2"), ("2", "Waiter 1", "1"),
                                                              ("3", "Waiter 2", "3")]
    assert client.get(f"/api/events/{event.id}/waitlist.csv", headers=user_headers).status_code == 403
    assert client.get("/api/events/424242/waitlist.csv", headers=admin_headers).status_code == 404


def test_removing_an_entry_tells_its_user_and_moves_everyone_up(client, admin, admin_headers):
    event, _holder, _holding, waiters = sold_out_with_waiters()
    first_user, first = waiters[0]

    response = client.delete(f"/api/events/{event.id}/waitlist/{first.id}", headers=admin_headers,
                             json={"reason": "Duplicate account"})

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["data"]["waitlistEntry"]["status"] == "removed"
    assert [row["name"] for row in queue(client, admin_headers, event.id)] == ["Waiter 1", "Waiter 2"]
    notice = db.session.scalar(select(Notification).where(Notification.kind == "waitlist_removed"))
    assert notice.user_id == first_user.id and "Duplicate account" in notice.body
    assert gate.state(event)["nwait"] == "2"
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "waitlist.remove"))
    assert (entry.actor_id, entry.subject_id, entry.reason) == (admin.id, first.id, "Duplicate account")
    again = client.delete(f"/api/events/{event.id}/waitlist/{first.id}", headers=admin_headers)
    assert again.status_code == 404


def test_removing_needs_an_admin_and_an_entry_of_that_event(client, user_headers, admin_headers):
    event, _holder, _holding, waiters = sold_out_with_waiters()
    other = factories.make_event()
    entry_id = waiters[0][1].id

    assert client.delete(f"/api/events/{event.id}/waitlist/{entry_id}", headers=user_headers).status_code == 403
    assert client.delete(f"/api/events/{other.id}/waitlist/{entry_id}", headers=admin_headers).status_code == 404
    bad = client.delete(f"/api/events/{event.id}/waitlist/{entry_id}", headers=admin_headers, json={"reason": ""})
    assert bad.status_code == 400
    assert db.session.get(WaitlistEntry, entry_id).status == "waiting"


def test_moving_an_entry_changes_the_place_everyone_is_told(client, admin_headers):
    event, _holder, _holding, waiters = sold_out_with_waiters()
    third_user, third = waiters[2]

    response = client.post(f"/api/events/{event.id}/waitlist/{third.id}/move", headers=admin_headers,
                           json={"position": 1, "reason": "Press"})

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["data"]["waitlistEntry"]["position"] == 1
    assert [row["name"] for row in queue(client, admin_headers, event.id)] == ["Waiter 2", "Waiter 0", "Waiter 1"]
    mine = client.get("/api/waitlist", headers=factories.auth_headers(third_user)).get_json()["data"]
    assert mine[0]["position"] == 1
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "waitlist.move"))
    assert (entry.before, entry.after, entry.reason) == ({"position": 3}, {"position": 1}, "Press")


def test_an_entry_moved_to_the_back_stays_ahead_of_later_joins(client, admin_headers):
    event, _holder, _holding, waiters = sold_out_with_waiters()
    first = waiters[0][1]
    assert client.post(f"/api/events/{event.id}/waitlist/{first.id}/move", headers=admin_headers,
                       json={"position": 3}).status_code == 200

    late = factories.make_user(name="Late")
    joined = bookings.book_seats(user=late, event_id=event.id, quantity=1).waitlist_entry

    assert joined.position == 4 == position_of(joined.id)
    assert [row["name"] for row in queue(client, admin_headers, event.id)] == [
        "Waiter 1", "Waiter 2", "Waiter 0", "Late"]


def test_moving_past_the_end_is_400_and_changes_nothing(client, admin_headers):
    event, _holder, _holding, waiters = sold_out_with_waiters()
    entry = waiters[0][1]

    response = client.post(f"/api/events/{event.id}/waitlist/{entry.id}/move", headers=admin_headers,
                           json={"position": 4})

    assert response.status_code == 400
    assert response.get_json()["error"]["details"] == {"position": ["The queue has 3 entries."]}
    assert position_of(entry.id) == 1


def test_a_paused_queue_holds_freed_seats_and_promotes_nobody(client, app_ctx, admin_headers):
    """An all-or-nothing waiter who does not fit claims nothing, so freed seats would be sold
    directly: paused, they are held for the queue instead, until the organiser acts."""
    event, holder, holding, waiters = sold_out_with_waiters(capacity=3, wants=(3,), strict=True)
    assert client.put(f"/api/events/{event.id}", json={"waitlistPaused": True},
                      headers=admin_headers).get_json()["data"]["waitlistPaused"] is True
    bookings.cancel_booking(actor=holder, booking_id=holding.id, quantity=1)  # 1 seat freed
    buyer = factories.auth_headers(factories.make_user())
    order = {"eventId": event.id, "quantity": 1, "joinWaitlist": False}

    answer = client.post("/api/bookings", json=order, headers=buyer)
    assert (answer.status_code, answer.get_json()["error"]["code"]) == (409, "SOLD_OUT")
    assert client.get(f"/api/events/{event.id}").get_json()["data"]["availableSeats"] == 0
    assert promotion.promote_waitlist(event_id=event.id).seats == 0
    assert gate.state(event)["paused"] == "1"

    client.put(f"/api/events/{event.id}", json={"waitlistPaused": False}, headers=admin_headers)
    assert client.post("/api/bookings", json=order, headers=buyer).status_code == 201  # the waiter wants 3


@pytest.mark.worker
def test_resuming_promotes_at_once(client, app_ctx, admin_headers, celery_worker):
    event, holder, holding, waiters = sold_out_with_waiters(capacity=2, wants=(2,))
    client.put(f"/api/events/{event.id}", json={"waitlistPaused": True}, headers=admin_headers)
    bookings.cancel_booking(actor=holder, booking_id=holding.id)
    waiter = waiters[0][0]
    db.session.expire_all()
    assert db.session.scalar(select(Booking).where(Booking.user_id == waiter.id)) is None

    client.put(f"/api/events/{event.id}", json={"waitlistPaused": False}, headers=admin_headers)

    served = wait_until(lambda: db.session.scalar(select(Booking).where(Booking.user_id == waiter.id)),
                        message="the waiter promoted once the queue resumed")
    assert (served.quantity, served.source) == (2, "waitlist")
    assert "event.update" in audit_actions(event.id)


def test_promoting_by_hand_serves_the_queue_in_order_even_paused(client, admin, admin_headers):
    event, holder, holding, waiters = sold_out_with_waiters(capacity=4, wants=(2, 2, 1))
    client.put(f"/api/events/{event.id}", json={"waitlistPaused": True}, headers=admin_headers)
    bookings.cancel_booking(actor=holder, booking_id=holding.id)  # 4 seats freed, held

    response = client.post(f"/api/events/{event.id}/waitlist/promote", json={"seats": 3, "reason": "VIPs first"},
                           headers=admin_headers)

    assert response.status_code == 200, response.get_json()
    data = response.get_json()["data"]
    assert data["seats"] == 3
    served = db.session.execute(select(Booking.user_id, Booking.quantity).where(Booking.source == "waitlist")
                                .order_by(Booking.id)).all()
    assert served == [(waiters[0][0].id, 2), (waiters[1][0].id, 1)]  # the second gets 1 of its 2, in order
    assert db.session.get(WaitlistEntry, waiters[1][1].id).quantity_remaining == 1
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "waitlist.promote")).all()
    assert [(entry.actor_id, entry.after["seats"], entry.reason) for entry in entries] == [
        (admin.id, 2, "VIPs first"), (admin.id, 1, "VIPs first")]


@pytest.mark.race
def test_a_promotion_by_hand_racing_an_automatic_one_promotes_each_seat_once(app, app_ctx, admin):
    event, holder, holding, waiters = sold_out_with_waiters(capacity=4, wants=(2, 2, 2, 2))
    bookings.cancel_booking(actor=holder, booking_id=holding.id)  # 4 seats freed
    event_id, admin_id = event.id, admin.id
    barrier = threading.Barrier(4)

    def run(by_hand):
        with app.app_context():
            barrier.wait()
            if by_hand:
                promotion.promote_by_hand(event_id=event_id, seats=4, auditor=Auditor(admin_id))
            else:
                promotion.promote_waitlist(event_id=event_id)
            db.session.remove()

    threads = [threading.Thread(target=run, args=(index % 2 == 0,)) for index in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    db.session.expire_all()
    served = db.session.execute(select(Booking.user_id, Booking.quantity).where(Booking.source == "waitlist")
                                .order_by(Booking.id)).all()
    assert served == [(waiters[0][0].id, 2), (waiters[1][0].id, 2)]
    assert db.session.scalar(select(func.sum(Booking.quantity)).where(Booking.status == "confirmed")) == 4
    assert int(gate.state(event)["avail"]) == 0


@pytest.mark.race
def test_a_pause_racing_a_cancellation_leaks_no_seat_to_direct_sale(app, app_ctx, admin):
    """Whichever commits first, once both have, the freed seats are held for the queue."""
    from evently.events import services as events

    for _round in range(5):
        event, holder, holding, waiters = sold_out_with_waiters(capacity=3, wants=(3,), strict=True)
        event_id, holder_id, booking_id, admin_id = event.id, holder.id, holding.id, admin.id
        barrier = threading.Barrier(2)

        def pause():
            with app.app_context():
                barrier.wait()
                events.update_event(actor=db.session.get(type(admin), admin_id), event_id=event_id,
                                    waitlist_paused=True)
                db.session.remove()

        def cancel():
            with app.app_context():
                barrier.wait()
                bookings.cancel_booking(actor=db.session.get(type(admin), holder_id), booking_id=booking_id,
                                        quantity=2)  # 2 freed: the strict waiter (3) cannot take them
                db.session.remove()

        threads = [threading.Thread(target=pause), threading.Thread(target=cancel)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)

        buyers = factories.make_users(3)
        for buyer in buyers:
            with pytest.raises(Exception) as refused:
                bookings.book_seats(user=buyer, event_id=event_id, quantity=1, join_waitlist=False)
            assert type(refused.value).__name__ == "SoldOut"
        db.session.expire_all()
        assert db.session.scalar(select(func.count()).select_from(Booking).where(
            Booking.event_id == event_id, Booking.status == "confirmed")) == 1  # the holder's, now of 1 seat
