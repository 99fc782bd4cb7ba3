"""Reminders: one per confirmed booking, REMINDER_LEAD_HOURS before the start, exactly once however often beat fires."""
import threading
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text

from evently.extensions import db
from evently.notifications import outbox
from evently.notifications.models import Notification
from evently.tickets import reminders
from tests import factories
from tests.tickets.helpers import book
from tests.waiting import wait_until


def reminded():
    db.session.expire_all()
    return sorted(db.session.scalars(select(Notification.payload["bookingId"].as_integer())
                                     .where(Notification.kind == "event_reminder")).all())


@pytest.fixture
def schedule(app_ctx, client):
    """Bookings around the reminder window: soon (in 10 h, Lisbon), later (in 3 days), started."""
    soon = factories.make_event(starts_in=timedelta(hours=10), zone="Europe/Lisbon", title="Fado % Night",
                                venue="Alfama")
    later = factories.make_event(starts_in=timedelta(days=3))
    started = factories.make_event(starts_in=timedelta(hours=-1))
    ada, bob, cat, dan = (factories.make_user(email=f"{name}@example.com", name=name.title())
                          for name in ("ada", "bob", "cat", "dan"))
    kept = book(ada, soon, 2)
    cancelled = book(bob, soon, 1)
    client.delete(f"/api/bookings/{cancelled.id}", headers=factories.auth_headers(bob))
    partly = book(cat, soon, 3)
    client.post(f"/api/bookings/{partly.id}/cancel", json={"quantity": 2}, headers=factories.auth_headers(cat))
    far = book(dan, later, 1)
    db.session.execute(text("UPDATE bookings SET event_id = :started WHERE id = :id"), {"started": started.id,
                                                                                      "id": book(dan, later, 1).id})
    db.session.commit()
    return {"soon": soon, "kept": kept, "partly": partly, "far": far}


@pytest.mark.worker
def test_beat_firing_twice_and_racing_runs_send_each_reminder_once(app, schedule, celery_worker, smtp_server):
    task = app.extensions["celery"].tasks["tickets.send_reminders"]
    task.delay()
    task.delay()

    def run():
        with app.app_context():
            reminders.send_reminders()
            db.session.remove()

    racers = [threading.Thread(target=run) for _ in range(3)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(30)

    kept, partly = schedule["kept"], schedule["partly"]
    wait_until(lambda: len(smtp_server.messages_with("Subject: Reminder")) >= 2, message="reminders mailed")
    wait_until(lambda: db.session.scalar(select(Notification.status).where(
        Notification.dedupe_key == f"event_reminder:{partly.id}")) == "sent", message="marked sent")
    assert reminded() == sorted([kept.id, partly.id])  # none for the cancelled booking, the later or the started event
    assert len(smtp_server.messages_with("Subject: Reminder")) == 2
    assert len(smtp_server.messages_with("ada@example.com")) == 2  # her confirmation and one reminder
    lisbon = schedule["soon"].starts_at.astimezone(ZoneInfo("Europe/Lisbon"))
    body = db.session.scalar(select(Notification.body).where(Notification.dedupe_key == f"event_reminder:{partly.id}"))
    assert body == (f"Fado % Night starts on {lisbon:%Y-%m-%d %H:%M} {lisbon.tzname()} (Europe/Lisbon) at Alfama. "
                    f"You have 1 ticket(s) (booking {partly.reference}); show their QR codes at the door.")
    mail = smtp_server.messages_with(f"event_reminder.{partly.id}@evently")[0]
    assert f"{partly.reference}-seat-1.png" in mail and f"{partly.reference}.ics" in mail


def test_the_lead_time_is_configurable(app, schedule):
    app.config["REMINDER_LEAD_HOURS"] = 96
    try:
        summary = reminders.send_reminders()
    finally:
        app.config["REMINDER_LEAD_HOURS"] = 24

    assert summary == {"events": 2, "reminders": 3, "more": False}
    assert reminded() == sorted([schedule["kept"].id, schedule["partly"].id, schedule["far"].id])
    assert reminders.send_reminders() == {"events": 1, "reminders": 0, "more": False}


def test_negative_control_without_the_dedupe_key_a_second_run_reminds_again(app, schedule, monkeypatch):
    once_per_run = text(outbox._REMINDERS.text
                        .replace("SELECT 'event_reminder:' || b.id,", "SELECT 'event_reminder:' || b.id || ':' || "
                                                                        "gen_random_uuid(),")
                        .replace("AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.dedupe_key = "
                                 "'event_reminder:' || b.id)", ""))
    monkeypatch.setattr(outbox, "_REMINDERS", once_per_run)

    reminders.send_reminders()
    reminders.send_reminders()

    assert reminded() == sorted([schedule["kept"].id, schedule["partly"].id] * 2)
