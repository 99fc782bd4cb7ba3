"""The OpenAPI document: valid, served with Swagger UI, true to the responses, and pinned by a snapshot.

The snapshot (tests/snapshots/openapi.json) makes every API change visible in review.
After changing an endpoint or a schema on purpose, refresh it and commit the result:

    UPDATE_SNAPSHOTS=1 .venv/bin/pytest tests/test_openapi.py
"""
import difflib
import json
import os
from pathlib import Path

import pytest
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate as validate_spec

SNAPSHOT = Path(__file__).parent / "snapshots" / "openapi.json"
REFRESH = "UPDATE_SNAPSHOTS=1 .venv/bin/pytest tests/test_openapi.py"
METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture
def document(client, app_ctx):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


def operations(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def conforms(document, component, instance):
    """Validate a real response body against a schema of the document."""
    schema = {"$ref": f"#/components/schemas/{component}", "components": document["components"]}
    errors = sorted(OAS30Validator(schema).iter_errors(instance), key=str)
    assert not errors, [error.message for error in errors]


def test_the_document_is_valid_openapi_3(document):
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] == "Evently API"
    validate_spec(document)


def test_the_auth_contract_is_documented(document):
    documented = {(path, method) for path, method, _ in operations(document)}

    assert {("/api/auth/register", "post"), ("/api/auth/login", "post"), ("/api/auth/refresh", "post"),
            ("/api/auth/logout", "post"), ("/api/auth/logout-all", "post"), ("/api/auth/me", "get"),
            ("/api/auth/password", "post"), ("/api/auth/password-reset", "post"),
            ("/api/auth/password-reset/confirm", "post"), ("/api/auth/create-admin", "post")} <= documented
    paths = document["paths"]
    assert set(paths["/api/auth/refresh"]["post"]["responses"]) >= {"200", "401"}
    assert set(paths["/api/auth/password"]["post"]["responses"]) >= {"200", "400", "401", "403"}
    assert set(paths["/api/auth/password-reset"]["post"]["responses"]) >= {"202", "400"}
    assert set(paths["/api/auth/password-reset/confirm"]["post"]["responses"]) >= {"200", "400", "401"}
    assert set(document["components"]["schemas"]["TokenPair"]["properties"]) == {"accessToken", "refreshToken"}
    register = document["paths"]["/api/auth/register"]["post"]
    assert "201" in register["responses"]
    schema = document["components"]["schemas"]["Register"]
    assert set(schema["properties"]) == {"email", "password", "name"}
    assert schema["additionalProperties"] is False


def test_bad_input_is_documented_as_400_not_422(document):
    for path, method, operation in operations(document):
        takes_input = "requestBody" in operation or any(p.get("in") == "query" for p in operation.get("parameters", []))
        if takes_input:
            assert "400" in operation["responses"], (method, path)
        assert operation["responses"].get("422", {}).get("$ref") != "#/components/responses/UNPROCESSABLE_ENTITY", \
            (method, path)
    assert "UNPROCESSABLE_ENTITY" not in json.dumps(document)


def test_the_documented_error_shape_is_the_one_served(client, document):
    for response in (client.post("/api/auth/register", json={"role": "admin"}), client.get("/api/auth/me"),
                     client.get("/api/nope"), client.get("/api/auth/login")):
        conforms(document, "ErrorEnvelope", response.get_json())
    bad_input = document["paths"]["/api/auth/register"]["post"]["responses"]["400"]
    assert bad_input["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/ErrorEnvelope"


def test_the_documented_success_shapes_are_the_ones_served(client, document):
    registered = client.post("/api/auth/register", json={"email": "doc@example.com", "password": "longenough1", "name": "D"})
    token = registered.get_json()["data"]["accessToken"]
    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})

    conforms(document, "AuthResultEnvelope", registered.get_json())
    conforms(document, "UserDataEnvelope", me.get_json())


def test_swagger_ui_is_served(client, app_ctx):
    response = client.get("/api/docs")

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "swagger-ui" in html and "/api/openapi.json" in html


def test_the_document_matches_the_committed_snapshot(document):
    current = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(current, encoding="utf-8")
        return
    assert SNAPSHOT.exists(), f"No OpenAPI snapshot yet: create it with `{REFRESH}` and commit it."
    committed = SNAPSHOT.read_text(encoding="utf-8")
    if committed == current:
        return
    before = json.loads(committed)
    added = sorted(set(document["paths"]) - set(before["paths"]))
    removed = sorted(set(before["paths"]) - set(document["paths"]))
    changed = sorted(path for path in set(document["paths"]) & set(before["paths"])
                     if document["paths"][path] != before["paths"][path])
    schemas = sorted(name for name in set(document["components"]["schemas"]) | set(before["components"]["schemas"])
                     if document["components"]["schemas"].get(name) != before["components"]["schemas"].get(name))
    diff = "".join(list(difflib.unified_diff(committed.splitlines(True), current.splitlines(True),
                                             "tests/snapshots/openapi.json (committed)", "generated now"))[:80])
    pytest.fail(
        "The OpenAPI document differs from tests/snapshots/openapi.json.\n"
        f"  paths added: {added}\n  paths removed: {removed}\n  paths changed: {changed}\n"
        f"  schemas changed: {schemas}\n"
        f"If the change is intended, run `{REFRESH}` and commit the snapshot.\n\n{diff}",
        pytrace=False,
    )
