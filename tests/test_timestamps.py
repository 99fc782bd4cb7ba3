"""One timestamp format everywhere Evently writes an instant: 2026-12-01T19:00:00Z."""
import json
import logging
import re

from evently.analytics import rollup
from evently.logs import JsonFormatter
from tests.fuzz.helpers import seed_world

ONE_FORMAT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
LOOKS_LIKE_A_MOMENT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")


def moments(value):
    """Every string in a JSON document that looks like an instant."""
    if isinstance(value, dict):
        return [moment for item in value.values() for moment in moments(item)]
    if isinstance(value, list):
        return [moment for item in value for moment in moments(item)]
    return [value] if isinstance(value, str) and LOOKS_LIKE_A_MOMENT.match(value) else []


def test_every_instant_in_the_api_has_the_one_format(client, app_ctx):
    world = seed_world()
    answers = [
        client.post("/api/auth/register", json={"email": "t@example.com", "password": "longenough1", "name": "T"}),
        client.get("/api/auth/me", headers=world.user_headers),
        client.get("/api/events"),
        client.get(f"/api/events/{world.event_id}"),
        client.get("/api/bookings", headers=world.user_headers),
        client.get(f"/api/bookings/{world.booking_id}", headers=world.user_headers),
        client.get("/api/waitlist", headers=world.user_headers),
        client.get(f"/api/events/{world.sold_out_event_id}/waitlist", headers=world.admin_headers),
    ]
    found = [moment for answer in answers for moment in moments(answer.get_json())]

    assert len(found) > 10
    assert [moment for moment in found if not ONE_FORMAT.fullmatch(moment)] == []


def test_log_lines_and_reports_use_it_too(app_ctx):
    record = logging.LogRecord("evently", logging.INFO, __file__, 1, "hello", None, None)
    assert ONE_FORMAT.fullmatch(json.loads(JsonFormatter().format(record))["ts"])

    report = rollup.run_rollup(full=True).as_dict()
    assert ONE_FORMAT.fullmatch(report["watermark"]), report
