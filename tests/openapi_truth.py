"""The error codes the OpenAPI document lists per operation, against the ones the API really answers.

Every error response a documented operation gives in the test process is recorded: Flask's
`request_finished` signal reaches every app the tests build (the session app, the variants of
tests/variants.py, the schemathesis app). An answer whose code the document does not list for
that operation and status is a violation, and conftest.py fails the test that caused it. So the
whole suite is the evidence that nothing undocumented escapes.

The other direction, every documented code is really raised by the operation, needs the whole
suite to have run: tests/test_openapi_truth.py checks it last (see conftest.py for "whole").
"""
import os
import re
import threading
from dataclasses import dataclass, field

from flask import request
from flask.signals import request_finished

METHODS = ("get", "post", "put", "patch", "delete")
# Any operation can answer these (a dependency down, the rate limit, a body too big or not JSON);
# a test need not provoke each one on every operation.
GENERIC_CODES = frozenset({"RATE_LIMITED", "UNAVAILABLE", "PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE"})
_RULE_VARIABLE = re.compile(r"<(?:[^<>:]+:)?([^<>]+)>")


@dataclass(frozen=True)
class Answer:
    method: str
    path: str
    status: int
    code: str | None

    def __str__(self):
        return f"{self.method.upper()} {self.path} -> {self.status} {self.code or '(no error envelope)'}"


@dataclass
class Record:
    documented: dict = field(default_factory=dict)  # (method, path) -> {status: {codes}}
    seen: dict = field(default_factory=dict)  # Answer -> the first test that caused it
    violations: list = field(default_factory=list)  # (test, Answer)
    whole_suite: bool = False  # set by conftest.py once the run's tests are known
    lock: threading.Lock = field(default_factory=threading.Lock)


RECORD = Record()


def documented_errors(document):
    """{(method, path): {status: {codes}}}: the codes of each operation's error responses, read from
    their examples (the envelope a client would get), references resolved."""
    components = document.get("components", {})
    result = {}
    for path, item in document["paths"].items():
        for method in METHODS:
            if method not in item:
                continue
            statuses = result.setdefault((method, path), {})
            for status, response in item[method]["responses"].items():
                if status.isdigit() and int(status) >= 400:
                    statuses[int(status)] = {example["value"]["error"]["code"]
                                             for example in response_examples(response, components).values()}
    return result


def response_examples(response, components):
    """The examples of a response's JSON content, {name: example}, references resolved."""
    response = resolve(response, components)
    examples = response.get("content", {}).get("application/json", {}).get("examples", {})
    return {name: resolve(example, components) for name, example in examples.items()}


def resolve(item, components):
    while "$ref" in item:
        _, _, section, name = item["$ref"].split("/")
        item = components[section][name]
    return item


def learn(document):
    """Take the document the tests judge the answers by (the one the session app serves)."""
    RECORD.documented = documented_errors(document)


def openapi_path(rule):
    """A Flask rule as the document writes its path: /api/events/<int:event_id> -> /api/events/{event_id}."""
    return _RULE_VARIABLE.sub(r"{\1}", rule)


def current_test():
    return os.environ.get("PYTEST_CURRENT_TEST", "(outside a test)").rsplit(" ", 1)[0]


def _record_answer(_app, response, **_kwargs):
    if response.status_code < 400 or request.url_rule is None:
        return  # a success, or no route matched (404/405 of the router, not of an operation)
    method = "get" if request.method == "HEAD" else request.method.lower()
    path = openapi_path(request.url_rule.rule)
    documented = RECORD.documented.get((method, path))
    if documented is None:
        return  # not an operation of the document: /healthz, /metrics, /api/docs, a test's own probe route
    body = response.get_json(silent=True) if response.is_json else None
    error = body.get("error") if isinstance(body, dict) else None
    answer = Answer(method, path, response.status_code, error.get("code") if isinstance(error, dict) else None)
    test = current_test()
    with RECORD.lock:
        RECORD.seen.setdefault(answer, test)
        if answer.code not in documented.get(answer.status, ()):
            RECORD.violations.append((test, answer))


def watch():
    """Record from now on; idempotent."""
    request_finished.connect(_record_answer, weak=False)


def violations_since(mark):
    with RECORD.lock:
        return RECORD.violations[mark:]


def take_violations(mark):
    """The violations since `mark`, forgotten: for a test that provokes one on purpose."""
    with RECORD.lock:
        found, RECORD.violations[mark:] = RECORD.violations[mark:], []
        return found


def violation_mark():
    with RECORD.lock:
        return len(RECORD.violations)


def describe_violations(found):
    lines = []
    for _test, answer in found:
        listed = RECORD.documented[(answer.method, answer.path)].get(answer.status)
        lines.append(f"  {answer}: the OpenAPI document lists "
                     + (f"{sorted(listed)} for {answer.status}" if listed else f"no {answer.status} response"))
    return ("An operation answered with an error code its OpenAPI document does not list:\n" + "\n".join(lines)
            + "\nDeclare it on the view with @document_errors(TheAppError) (evently/http.py), or stop raising it.")


def never_seen():
    """Documented (method, path, status, code) that no test made the operation answer, generic codes aside."""
    seen = {(answer.method, answer.path, answer.status, answer.code) for answer in RECORD.seen}
    return sorted((method, path, status, code)
                  for (method, path), statuses in RECORD.documented.items()
                  for status, codes in statuses.items()
                  for code in codes
                  if code not in GENERIC_CODES and (method, path, status, code) not in seen)
