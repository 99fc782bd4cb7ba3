"""Bad input at the edges of every writing route and list: the status, the envelope code, and
PostgreSQL left untouched. (tests/test_errors.py covers the same on /api/auth/register.)"""
import io
import json

import pytest
from sqlalchemy import inspect

from evently.extensions import db
from tests.fuzz.helpers import assert_envelope, row_counts, seed_world


@pytest.fixture
def world(app_ctx):
    return seed_world()


def writes(world):
    """(method, path, headers, a valid body) for each route that takes a JSON body."""
    return [
        ("POST", "/api/bookings", world.user_headers, {"eventId": world.event_id, "quantity": 1}),
        ("POST", "/api/waitlist", world.user_headers, {"eventId": world.full_event_id, "quantity": 1}),
        ("POST", "/api/events", world.admin_headers,
         {"title": "T", "venue": "V", "startsAt": "2099-01-01T10:00:00Z", "endsAt": "2099-01-01T12:00:00Z",
          "capacity": 5, "price": 1}),
        ("PUT", f"/api/events/{world.event_id}", world.admin_headers, {"capacity": 70}),
        ("POST", "/api/auth/register", {}, {"email": "new@example.com", "password": "longenough1", "name": "N"}),
        ("POST", "/api/auth/create-admin", world.admin_headers,
         {"email": "boss@example.com", "password": "longenough1", "name": "B"}),
    ]


def assert_rejected(response, status, code, before):
    assert_envelope(response, status, code)
    assert row_counts() == before


def test_a_10_mb_body_is_413(client, world):
    before = row_counts()
    for method, path, headers, valid in writes(world):
        body = json.dumps({**valid, "description": "x" * (10 * 1024 * 1024)})
        response = client.open(path, method=method, data=body, content_type="application/json", headers=headers)
        assert_rejected(response, 413, "PAYLOAD_TOO_LARGE", before)


def test_a_huge_body_that_is_not_json_is_refused_unread_with_415(client, world):
    before = row_counts()
    for method, path, headers, _valid in writes(world):
        response = client.open(path, method=method, data=b"\xff" * (10 * 1024 * 1024),
                               content_type="application/octet-stream", headers=headers)
        assert_rejected(response, 415, "UNSUPPORTED_MEDIA_TYPE", before)


WRONG_TYPES = {
    "text/plain": lambda valid: {"data": json.dumps(valid), "content_type": "text/plain"},
    "form": lambda valid: {"data": {key: str(value) for key, value in valid.items()}},
    "multipart": lambda valid: {"data": {**{key: str(value) for key, value in valid.items()},
                                         "file": (io.BytesIO(b"{}"), "body.json")},
                                "content_type": "multipart/form-data"},
    "xml": lambda valid: {"data": "<booking/>", "content_type": "application/xml"},
    "json-lookalike": lambda valid: {"data": json.dumps(valid), "content_type": "application/jsonp"},
}


@pytest.mark.parametrize("kind", WRONG_TYPES)
def test_a_body_that_is_not_json_is_415(client, world, kind):
    before = row_counts()
    for method, path, headers, valid in writes(world):
        response = client.open(path, method=method, headers=headers, **WRONG_TYPES[kind](valid))
        assert_rejected(response, 415, "UNSUPPORTED_MEDIA_TYPE", before)


MALFORMED = [b"{", b'{"eventId": }', b'{"eventId": 1,}', b"{'eventId': 1}", b'{"eventId": 1} trailing',
             b"\xff\xfe{}", b"[" * 100_000, b'{"a":' * 10_000 + b"1" + b"}" * 10_000, b"NaN", b'{"quantity": NaN}',
             b'{"quantity": Infinity}', b"\x00", b'"\\ud800']


@pytest.mark.parametrize("raw", MALFORMED, ids=lambda raw: repr(raw[:16]))
def test_malformed_json_is_400(client, world, raw):
    before = row_counts()
    for method, path, headers, _valid in writes(world):
        response = client.open(path, method=method, data=raw, content_type="application/json", headers=headers)
        assert_rejected(response, 400, "VALIDATION_ERROR", before)


@pytest.mark.parametrize("body", [[], [{"eventId": 1, "quantity": 1}], "a string", 42, 1.5, None, True, False],
                         ids=repr)
def test_json_that_is_not_an_object_is_400(client, world, body):
    before = row_counts()
    for method, path, headers, _valid in writes(world):
        response = client.open(path, method=method, json=body, headers=headers)
        assert_rejected(response, 400, "VALIDATION_ERROR", before)


def test_an_empty_json_body_is_400_naming_the_required_fields(client, world):
    before = row_counts()
    response = client.post("/api/bookings", data=b"", content_type="application/json", headers=world.user_headers)

    body = assert_envelope(response, 400, "VALIDATION_ERROR")
    assert row_counts() == before
    assert body["error"]["details"]


@pytest.mark.parametrize("query, field", [
    ("page=0", "page"), ("page=-1", "page"), ("page=abc", "page"), ("page=1.5", "page"), ("page=1e3", "page"),
    ("page=99999999999999999999999", "page"), ("page=", "page"), ("page=%00", "page"),
    ("perPage=0", "perPage"), ("perPage=10000", "perPage"), ("perPage=101", "perPage"), ("perPage=-5", "perPage"),
    ("page=1&page=2", "page"), ("perPage=10&perPage=100", "perPage"),
])
@pytest.mark.parametrize("listing", ["/api/events", "/api/bookings", "/api/events/{event_id}/waitlist"])
def test_pagination_abuse_on_every_list_is_400(client, world, listing, query, field):
    before = row_counts()
    path = listing.format(event_id=world.sold_out_event_id)

    response = client.get(f"{path}?{query}", headers=world.admin_headers)

    body = assert_envelope(response, 400, "VALIDATION_ERROR")
    assert field in body["error"]["details"], body
    assert row_counts() == before


@pytest.mark.parametrize("query, field", [
    ("sort=startsAt;DROP TABLE events", "sort"), ("sort=startsAt%3BDROP%20TABLE%20events--", "sort"),
    ("sort=starts_at", "sort"), ("sort=price%20DESC", "sort"), ("sort=(SELECT 1)", "sort"),
    ("sort=startsAt&sort=price", "sort"), ("sort[]=price", "sort[]"), ("status=all", "status"),
    ("from=yesterday", "from"), ("from=2026-01-01", "from"), ("to=2026-01-01T00:00:00", "to"),
    ("from=2027-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", "from"), ("q=", "q"), ("q=%00", "q"),
    ("venue=" + "v" * 201, "venue"), ("drop=table", "drop"), ("page[$gt]=1", "page[$gt]"),
])
def test_query_abuse_on_the_event_list_is_400(client, world, query, field):
    before = row_counts()

    response = client.get(f"/api/events?{query}", headers=world.user_headers)

    body = assert_envelope(response, 400 if field != "status" else 403, None)
    if field != "status":
        assert body["error"]["code"] == "VALIDATION_ERROR"
        assert field in body["error"]["details"], body
    assert row_counts() == before
    assert inspect(db.engine).has_table("events")


@pytest.mark.parametrize("query, field", [
    ("status=pending", "status"), ("status=confirmed;DROP TABLE bookings", "status"), ("eventId=abc", "eventId"),
    ("eventId=0", "eventId"), ("eventId=%00", "eventId"), ("allUsers=maybe", "allUsers"),
    ("status=confirmed&status=cancelled", "status"), ("drop=table", "drop"), ("=", ""), ("page[$gt]=1", "page[$gt]"),
])
def test_query_abuse_on_the_booking_list_is_400(client, world, query, field):
    before = row_counts()

    response = client.get(f"/api/bookings?{query}", headers=world.user_headers)

    body = assert_envelope(response, 400, "VALIDATION_ERROR")
    assert field in body["error"]["details"], body
    assert row_counts() == before
    assert inspect(db.engine).has_table("bookings")


@pytest.mark.parametrize("query, field", [("drop=table", "drop"), ("=null", ""), ("perPage=5&perPage=6", "perPage")])
def test_query_abuse_on_the_event_queue_is_400(client, world, query, field):
    before = row_counts()

    response = client.get(f"/api/events/{world.sold_out_event_id}/waitlist?{query}", headers=world.admin_headers)

    body = assert_envelope(response, 400, "VALIDATION_ERROR")
    assert field in body["error"]["details"], body
    assert row_counts() == before


def test_lists_still_answer_after_the_abuse(client, world):
    response = client.get("/api/events?page=1&perPage=100&sort=-price", headers=world.user_headers)

    assert response.status_code == 200
    assert response.get_json()["meta"] == {"page": 1, "perPage": 100, "total": 3, "pages": 1}
