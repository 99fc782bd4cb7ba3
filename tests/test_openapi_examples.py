"""Every operation's example request, built from the OpenAPI document as Swagger UI's "Try it out"
builds it, passes the operation's own validation and works when sent to the API.

Swagger UI fills path and query parameters with their `example` (else their schema's example or
default) and writes the body from the media type's `example`, else from every property's
example or default; a property with neither becomes a placeholder ("string", 0) that no real
request would send. Each request is sent as an admin to a fresh small world where id 1 exists,
and must succeed, or be refused for a reason listed in REFUSALS (never a VALIDATION_ERROR).
"""
import json

import pytest
from sqlalchemy import text

from evently.bookings import services as bookings
from evently.extensions import db, redis_client
from tests import factories
from tests.conftest import all_tables

METHODS = ("get", "post", "put", "patch", "delete")


def resolve(item, components):
    while "$ref" in item:
        _, _, section, name = item["$ref"].split("/")
        item = components[section][name]
    return item


def parameter_value(parameter, components):
    parameter = resolve(parameter, components)
    schema = resolve(parameter.get("schema", {}), components)
    for source in (parameter, schema):
        if "example" in source:
            return source["example"]
    return schema.get("default")


def example_body(request_body, components):
    """(body, properties with neither an example nor a default) as Swagger UI would write it."""
    media = request_body["content"]["application/json"]
    if "example" in media:
        return media["example"], []
    schema = resolve(media["schema"], components)
    body, missing = {}, []
    for name, prop in schema.get("properties", {}).items():
        prop = resolve(prop, components)
        if prop.get("readOnly"):
            continue
        if "example" in prop:
            body[name] = prop["example"]
        elif "default" in prop:
            body[name] = prop["default"]
        else:
            missing.append(name)
    return body, missing


def as_query_text(value):
    return json.dumps(value) if isinstance(value, bool) else str(value)


def example_request(path, operation, path_parameters, components):
    """(url, query, headers, json body or None, problems) for one operation."""
    problems = []
    url = path
    for parameter in [*path_parameters, *operation.get("parameters", [])]:
        parameter = resolve(parameter, components)
        if parameter["in"] == "path":
            if "example" not in parameter:
                problems.append(f"path parameter {parameter['name']} has no example")
                continue
            url = url.replace("{" + parameter["name"] + "}", str(parameter["example"]))
    query, headers = {}, {}
    for parameter in operation.get("parameters", []):
        parameter = resolve(parameter, components)
        value = parameter_value(parameter, components)
        if value is None or parameter["in"] == "path":
            continue
        (query if parameter["in"] == "query" else headers)[parameter["name"]] = as_query_text(value)
    body = None
    if "requestBody" in operation:
        body, missing = example_body(operation["requestBody"], components)
        problems += [f"body property {name} has neither an example nor a default" for name in missing]
    return url, query, headers, body, problems


# What the example can only be refused, in the world below, and why; every other example succeeds.
REFUSALS = {
    "POST /api/auth/register": "EMAIL_TAKEN",  # the example account exists, so that login's example works
    "POST /api/auth/create-admin": "EMAIL_TAKEN",
    "POST /api/auth/refresh": "UNAUTHORIZED",  # it takes the refresh token, not the access token
    "POST /api/auth/password-reset/confirm": "UNAUTHORIZED",  # it takes the token a mail brings
    "GET /api/events/{event_id}/cancellation": "NOT_FOUND",  # event 1 is not being cancelled
    "DELETE /api/waitlist/{event_id}": "NOT_FOUND",  # the caller does not wait: joining must work too
    "POST /api/auth/create-staff": "EMAIL_TAKEN",
    "POST /api/checkins": "NOT_FOUND",  # an example code carries no signature of this server's
    "DELETE /api/checkins/{ticket_id}": "NOT_FOUND",  # ticket 1 is not checked in
}


def fresh_world():
    """As an admin, in a world where id 1 is everything the examples name: event 1 full (booking 1
    takes its seats), entry 1 waiting for it, the example account (ada@example.com)."""
    db.session.remove()
    with db.engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {', '.join(all_tables())} RESTART IDENTITY CASCADE"))
    redis_client.flushdb()
    admin = factories.make_user(role="admin", email="admin@example.com")
    ada = factories.make_user(email="ada@example.com", name="Ada Lovelace")
    grace = factories.make_user(email="grace@example.com", name="Grace Hopper")
    event = factories.make_event(capacity=2)
    bookings.book_seats(user=ada, event_id=event.id, quantity=2)
    bookings.book_seats(user=grace, event_id=event.id, quantity=1)  # waits
    headers = factories.auth_headers(admin)
    db.session.remove()
    return headers


def test_every_operation_has_an_example_request_that_passes_its_validation(client, app_ctx):
    document = client.get("/api/openapi.json").get_json()
    components = document["components"]
    problems, answers = [], []
    for path, item in document["paths"].items():
        for method in METHODS:
            if method not in item:
                continue
            operation = item[method]
            url, query, headers, body, missing = example_request(path, operation, item.get("parameters", []),
                                                                 components)
            label = f"{method.upper()} {path}"
            problems += [f"{label}: {problem}" for problem in missing]
            auth = fresh_world()
            response = client.open(url, method=method.upper(), query_string=query, headers={**headers, **auth},
                                   json=body)
            answer = response.get_json(silent=True) or {}
            code = (answer.get("error") or {}).get("code")
            answers.append(f"{label}: {response.status_code} {code or ''}")
            if response.status_code >= 300 and code != REFUSALS.get(label):
                problems.append(f"{label}: the example {method.upper()} {url} {query} {body} was answered "
                                f"{response.status_code} {answer}")
            if str(response.status_code) not in operation["responses"]:
                problems.append(f"{label}: answered {response.status_code}, which it does not document")
    assert not problems, "\n".join(problems) + "\n\nAll answers:\n" + "\n".join(answers)


@pytest.mark.parametrize("request_body, body, missing", [
    ({"content": {"application/json": {"example": {"capacity": 150}, "schema": {"$ref": "#/components/schemas/X"}}}},
     {"capacity": 150}, []),
    ({"content": {"application/json": {"schema": {"$ref": "#/components/schemas/X"}}}},
     {"eventId": 1, "allowPartial": True}, ["quantity"]),
])
def test_the_body_is_built_as_swagger_ui_builds_it(request_body, body, missing):
    components = {"schemas": {"X": {"properties": {
        "eventId": {"type": "integer", "example": 1, "maximum": 4611686018427387904},
        "quantity": {"type": "integer", "maximum": 1000},
        "allowPartial": {"type": "boolean", "default": True},
        "id": {"type": "integer", "readOnly": True}}}}}

    assert example_body(request_body, components) == (body, missing)
