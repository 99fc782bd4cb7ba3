"""Signed codes (Ed25519) that verify offline with the event's public key, and QR images that decode back to them."""
import base64
import io
import xml.etree.ElementTree as ET

import pytest
import segno
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from PIL import Image
from pyzbar.pyzbar import ZBarSymbol, decode

from evently.tickets import codes, qr
from tests import factories
from tests.tickets.helpers import book, codes_of, scan


def test_the_checkin_key_verifies_every_code_offline(app_ctx, client, user):
    event = factories.make_event()
    booking = book(user, event, 2)
    ticket_codes = codes_of(client, user, booking.id)

    key = client.get(f"/api/events/{event.id}/checkin-key").get_json()["data"]

    assert (key["eventId"], key["algorithm"]) == (event.id, "Ed25519")
    raw = Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(key["publicKey"] + "="))
    pem = load_pem_public_key(key["publicKeyPem"].encode())
    for code in ticket_codes:
        payload, _, signature = code.rpartition(":")
        signed = base64.b32decode(signature + "=" * (-len(signature) % 8))
        raw.verify(signed, payload.encode())  # raises if not
        pem.verify(signed, payload.encode())
        assert payload.startswith("EVT1:") and f":{event.id}:" in payload and payload.endswith(booking.reference)
    # Another event's key does not verify these codes.
    other = client.get(f"/api/events/{factories.make_event().id}/checkin-key").get_json()["data"]
    assert other["publicKey"] != key["publicKey"]


def test_a_drafts_key_is_for_staff_and_admins_only(app_ctx, client, admin_headers):
    draft = factories.make_event(status="draft")

    assert client.get(f"/api/events/{draft.id}/checkin-key").status_code == 404
    assert client.get(f"/api/events/{draft.id}/checkin-key",
                      headers=factories.auth_headers(factories.make_user())).status_code == 404
    assert client.get(f"/api/events/{draft.id}/checkin-key", headers=admin_headers).status_code == 200
    staff = factories.make_user(role="staff")
    assert client.get(f"/api/events/{draft.id}/checkin-key", headers=factories.auth_headers(staff)).status_code == 200
    assert client.get("/api/events/424242/checkin-key").status_code == 404
    # The key is public, but a token that comes with the request must be valid.
    forged = client.get(f"/api/events/{draft.id}/checkin-key", headers={"Authorization": "Bearer not.a.token"})
    assert (forged.status_code, forged.get_json()["error"]["code"]) == (401, "UNAUTHORIZED")


def flipped(text, index):
    return text[:index] + ("B" if text[index] != "B" else "C") + text[index + 1:]


def test_forged_altered_and_unknown_codes_get_one_404_that_says_nothing(app_ctx, client, user):
    event = factories.make_event()
    booking = book(user, event, 2)
    good, second = codes_of(client, user, booking.id)
    staff = factories.auth_headers(factories.make_user(role="staff"))
    payload, _, signature = good.rpartition(":")
    ticket_id = int(payload.split(":")[1])
    # A signature made with some other Ed25519 key, over the genuine fields.
    stranger = base64.b32encode(Ed25519PrivateKey.generate().sign(payload.encode())).rstrip(b"=").decode()
    # Genuinely signed by the event's key, for a ticket that does not exist.
    unknown = codes.code_for(codes.TicketFields(ticket_id=ticket_id + 1000, event_id=event.id, seat_index=1,
                                                reference=booking.reference))
    forgeries = {
        "another key's signature": f"{payload}:{stranger}",
        "a flipped signature character": flipped(good, len(good) - 5),
        "another seat, same signature": good.replace(f":{event.id}:1:", f":{event.id}:2:"),
        "another ticket's signature": f"{payload}:{second.rpartition(':')[2]}",
        "unknown ticket": unknown,
        "lower case": good.lower(),
        "garbage": "hello",
        "leading zero": good.replace(f"EVT1:{ticket_id}:", f"EVT1:0{ticket_id}:"),
    }
    bodies = []
    for what, code in forgeries.items():
        response = scan(client, staff, code)
        assert response.status_code == 404, what
        bodies.append(response.get_json())
    assert all(body == bodies[0] for body in bodies)
    assert bodies[0] == {"message": "No valid ticket has this code.", "error": {"code": "NOT_FOUND", "details": {}}}
    assert scan(client, staff, good).status_code == 201  # and the genuine one still works


def test_the_code_fits_a_qr_code_of_version_7_even_with_the_largest_ids(app_ctx):
    largest = codes.TicketFields(ticket_id=2**63 - 1, event_id=2**63 - 1, seat_index=100,
                                 reference="EVT-" + "Z" * 16)
    code = codes.code_for(largest)

    symbol = qr.symbol(code)

    assert (len(code), symbol.mode, symbol.version) == (173, "alphanumeric", 7)
    assert codes.verified(code) == largest
    assert segno.make_qr(code, error="M").version <= 10


def read_qr(png):
    image = Image.open(io.BytesIO(png)).convert("L")
    return [symbol.data.decode() for symbol in decode(image, symbols=[ZBarSymbol.QRCODE])]


def test_qr_images_decode_back_to_the_ticket_code(app_ctx, client, user):
    booking = book(user, factories.make_event(), 2)
    headers = factories.auth_headers(user)
    listed = client.get(f"/api/bookings/{booking.id}/tickets", headers=headers).get_json()["data"]

    for ticket in listed:
        png = client.get(f"/api/bookings/{booking.id}/tickets/{ticket['id']}/qr.png", headers=headers)
        svg = client.get(f"/api/bookings/{booking.id}/tickets/{ticket['id']}/qr.svg", headers=headers)

        assert (png.status_code, png.mimetype) == (200, "image/png")
        assert read_qr(png.data) == [ticket["code"]]  # zbar reads what segno drew
        assert (svg.status_code, svg.mimetype) == (200, "image/svg+xml")
        root = ET.fromstring(svg.data)
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        # The SVG is segno's drawing of the very code zbar read from the PNG.
        assert svg.data == qr.render(ticket["code"], qr.SVG)


def test_qr_images_are_the_owners_and_void_tickets_have_none(app_ctx, client, user):
    booking = book(user, factories.make_event(), 2)
    headers = factories.auth_headers(user)
    first, second = client.get(f"/api/bookings/{booking.id}/tickets", headers=headers).get_json()["data"]
    stranger = factories.auth_headers(factories.make_user())

    assert client.get(f"/api/bookings/{booking.id}/tickets/{first['id']}/qr.png", headers=stranger).status_code == 404
    assert client.get(f"/api/bookings/{booking.id}/tickets/999999/qr.svg", headers=headers).status_code == 404
    client.post(f"/api/bookings/{booking.id}/cancel", json={"quantity": 1}, headers=headers)
    for kind in ("png", "svg"):
        refused = client.get(f"/api/bookings/{booking.id}/tickets/{second['id']}/qr.{kind}", headers=headers)
        assert (refused.status_code, refused.get_json()["error"]["code"]) == (409, "TICKET_VOID"), kind
    assert client.get(f"/api/bookings/{booking.id}/tickets/{first['id']}/qr.png", headers=headers).status_code == 200


@pytest.mark.parametrize("value", ["", "x" * 201, 42, None])
def test_bad_check_in_bodies_are_400(app_ctx, client, value):
    staff = factories.auth_headers(factories.make_user(role="staff"))

    response = client.post("/api/checkins", json={"code": value}, headers=staff)

    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "VALIDATION_ERROR"
