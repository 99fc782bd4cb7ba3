"""The OpenAPI document's error responses tell the truth: each names the codes it can carry, with
the envelope a client gets for each, and the codes are the ones the operation really answers.

Undocumented answers fail the test that provokes them, anywhere in the suite (conftest.py,
tests/openapi_truth.py). The last test here checks the other direction once the whole suite has
run: every code an operation documents was answered by it at least once.
"""
import re

import pytest
from openapi_schema_validator import OAS30Validator

from evently import errors
from evently.auth import services as auth_services
from evently.http import document_errors
from tests import openapi_truth
from tests.conftest import TRUTH_CHECK

METHODS = ("get", "post", "put", "patch", "delete")
VALID = {"email": "ada@example.com", "password": "longenough1", "name": "Ada"}


@pytest.fixture
def document(client, app_ctx):
    return client.get("/api/openapi.json").get_json()


def catalogue():
    """{code: {statuses}} of every AppError class: the one home of codes, statuses and sentences."""
    found, pending = {}, [errors.AppError]
    while pending:
        error = pending.pop()
        found.setdefault(error.code, set()).add(error.status)
        pending.extend(error.__subclasses__())
    return found


def error_responses(document):
    for path, item in document["paths"].items():
        for method in METHODS:
            for status, response in item.get(method, {}).get("responses", {}).items():
                if status == "default" or int(status) >= 400:
                    yield f"{method.upper()} {path}", status, response


def test_every_error_response_names_its_codes_each_with_a_true_example(document):
    components = document["components"]
    codes = catalogue()
    envelope = OAS30Validator({"$ref": "#/components/schemas/ErrorEnvelope", "components": components})
    problems = []
    for operation, status, response in error_responses(document):
        where = f"{operation} {status}"
        if status == "default":
            problems.append(f"{where}: a `default` response hides which errors can happen")
            continue
        examples = openapi_truth.response_examples(response, components)
        if not examples:
            problems.append(f"{where}: no example")
        description = openapi_truth.resolve(response, components)["description"]
        for name, example in examples.items():
            value = example["value"]
            code = value["error"]["code"]
            problems += [f"{where}: example {name}: {error.message}" for error in envelope.iter_errors(value)]
            if name != code:
                problems.append(f"{where}: the example named {name} carries {code}")
            if int(status) not in codes.get(code, ()):
                problems.append(f"{where}: {code} is answered with {sorted(codes.get(code, ()))}, not {status}")
            if f"`{code}`" not in description:
                problems.append(f"{where}: the description does not name {code}")
    assert not problems, "\n".join(problems)


def test_an_example_says_what_its_error_class_says(document):
    """The sentence and details of each code come from its AppError class, written once."""
    by_code = {}
    pending = [errors.AppError]
    while pending:
        error = pending.pop()
        by_code.setdefault(error.code, error)
        pending.extend(error.__subclasses__())
    for name, example in document["components"]["examples"].items():
        error = by_code[name]
        assert example["value"] == errors.example_envelope(error), name
        assert example["summary"] == error.message


def test_every_operation_that_takes_input_documents_validation_errors_naming_its_own_fields(document):
    register = document["paths"]["/api/auth/register"]["post"]["responses"]["400"]
    events = document["paths"]["/api/events"]["get"]["responses"]["400"]

    assert register["content"]["application/json"]["examples"]["VALIDATION_ERROR"]["value"]["error"]["details"] == {
        "email": ["Missing data for required field."]}
    assert events["content"]["application/json"]["examples"]["VALIDATION_ERROR"]["value"]["error"]["details"] == {
        "colour": ["Unknown field."]}


def test_conflicts_list_each_code_the_operation_can_answer(document):
    conflict = document["paths"]["/api/bookings"]["post"]["responses"]["409"]
    codes = set(conflict["content"]["application/json"]["examples"])

    assert codes == {"SOLD_OUT", "EVENT_STARTED", "EVENT_NOT_BOOKABLE", "PER_USER_LIMIT", "ALREADY_WAITLISTED",
                     "IDEMPOTENCY_IN_PROGRESS"}
    assert all(f"`{code}`" in conflict["description"] for code in codes)


def test_a_nullable_object_is_documented_object_first_so_examples_show_it(document):
    """Swagger UI draws an example from anyOf's first branch; null stays allowed by the second."""
    result = document["components"]["schemas"]["BookingResult"]["properties"]
    validator = OAS30Validator({"$ref": "#/components/schemas/BookingResult", "components": document["components"]})

    assert result["booking"]["anyOf"][0] == {"$ref": "#/components/schemas/Booking"}
    assert result["waitlistEntry"]["anyOf"][0] == {"$ref": "#/components/schemas/WaitlistEntry"}
    removal = document["components"]["schemas"]["EventRemoval"]["properties"]["cancellationJob"]
    assert removal["anyOf"][0] == {"$ref": "#/components/schemas/Job"}
    assert validator.is_valid({"booking": None, "waitlistEntry": None})
    assert not validator.is_valid({"booking": {"id": "not a number"}, "waitlistEntry": None})


def test_every_operation_that_declares_bearer_security_refuses_a_request_without_a_valid_token(client, document):
    """What the padlock in Swagger UI promises: no token, or a forged one, is a 401 before anything else."""
    problems = []
    for path, item in document["paths"].items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None or not operation.get("security"):
                continue
            url = re.sub(r"\{[^}]+\}", "1", path)
            for headers in ({}, {"Authorization": "Bearer not-a-jwt"}):
                response = client.open(url, method=method.upper(), headers=headers, json={})
                code = (response.get_json(silent=True) or {}).get("error", {}).get("code")
                if (response.status_code, code) != (401, "UNAUTHORIZED"):
                    problems.append(f"{method.upper()} {path} {headers}: {response.status_code} {code}")
    assert not problems, "\n".join(problems)


def test_document_errors_takes_error_classes_not_statuses():
    with pytest.raises(TypeError, match="AppError classes"):
        document_errors(409)


def test_an_undocumented_code_fails_the_test_that_provokes_it(client, app_ctx, monkeypatch):
    """The negative control of conftest.py's check: registering cannot answer SOLD_OUT, so when a
    fault makes it, the answer is caught as a violation."""

    def sold_out(**_kwargs):
        raise errors.SoldOut()

    monkeypatch.setattr(auth_services, "register_user", sold_out)
    mark = openapi_truth.violation_mark()

    response = client.post("/api/auth/register", json=VALID)

    caught = openapi_truth.take_violations(mark)  # taken, so that this test itself passes
    assert response.status_code == 409
    assert [str(answer) for _test, answer in caught] == ["POST /api/auth/register -> 409 SOLD_OUT"]
    assert "@document_errors" in openapi_truth.describe_violations(caught)


def test_a_documented_code_nobody_answers_is_reported():
    """The negative control of the last check: a code documented but never seen is listed."""
    saved = openapi_truth.RECORD.documented, openapi_truth.RECORD.seen
    try:
        openapi_truth.RECORD.documented = {("post", "/api/x"): {409: {"SOLD_OUT", "EVENT_STARTED"},
                                                                429: {"RATE_LIMITED"}}}
        openapi_truth.RECORD.seen = {openapi_truth.Answer("post", "/api/x", 409, "SOLD_OUT"): "a test"}

        assert openapi_truth.never_seen() == [("post", "/api/x", 409, "EVENT_STARTED")]
    finally:
        openapi_truth.RECORD.documented, openapi_truth.RECORD.seen = saved


def test_every_documented_error_code_is_answered_by_its_operation(request):
    """Runs last (conftest.py). Only a whole run can tell: a single file answers few codes."""
    assert request.node.nodeid == TRUTH_CHECK
    if not openapi_truth.RECORD.whole_suite:
        pytest.skip("needs the whole default suite (make test): every test file, only slow/browser left out")
    missing = openapi_truth.never_seen()
    failed = request.session.testsfailed
    assert not missing, (
        "The OpenAPI document lists error codes that no test made the operation answer:\n"
        + "\n".join(f"  {method.upper()} {path} -> {status} {code}" for method, path, status, code in missing)
        + "\nEither the operation cannot answer it (remove it from its @document_errors) or no test shows it "
          "(add one)." + (f"\n{failed} test(s) failed earlier; they may be the ones that answer these." if failed else ""))
