"""HTTP building blocks: the Api/Blueprint that answer bad input with 400 (JSON bodies parsed
strictly), the camelCase Schema base that rejects unknown keys and unstorable text, response
envelopes and pagination, and what the OpenAPI document says of errors (document_errors,
ErrorResponsesPlugin) and of nullable objects."""
import copy
import csv
import io
import json
import math
from collections.abc import Mapping
from http import HTTPStatus

import marshmallow as ma
import simplejson
from apispec import BasePlugin
from flask import Response, request, stream_with_context
from flask.json.provider import DefaultJSONProvider
from flask.sessions import SessionInterface
from flask_smorest import Api as SmorestApi
from flask_smorest import Blueprint as SmorestBlueprint
from marshmallow import missing
from webargs.flaskparser import FlaskParser, abort, is_json_request

from evently.errors import (AppError, NotFound, PayloadTooLarge, RateLimited, Unavailable, UnsupportedMediaType,
                            ValidationError, error_payload, example_envelope)
from evently.security import BODY_METHODS


class UnacceptableJSON(ValueError):
    """Parseable JSON that Evently refuses to guess about."""


# Far beyond any id, count or amount, far below Python's own limit (4,300 digits), past which
# int() raises ValueError from inside json.loads.
MAX_INTEGER_DIGITS = 100


def _object_without_duplicate_keys(pairs):
    """RFC 8259 leaves duplicate names to the implementation, and parsers disagree (first wins,
    last wins): whatever a proxy or a signature checked may not be what Evently would act on."""
    result = {}
    for key, value in pairs:
        if key in result:
            raise UnacceptableJSON(f"The key {key!r} appears more than once in one object.")
        result[key] = value
    return result


def _bounded_integer(text):
    if len(text) - text.startswith("-") > MAX_INTEGER_DIGITS:
        raise UnacceptableJSON(f"Integers may have at most {MAX_INTEGER_DIGITS} digits.")
    return int(text)


def _finite_number(text):
    value = float(text)
    if not math.isfinite(value):
        raise UnacceptableJSON("Numbers must be finite.")
    return value


def _no_constant(name):
    raise UnacceptableJSON(f"{name} is not JSON.")


def loads_strict(data):
    """json.loads for request bodies: no duplicate keys, no integers too long to convert, no
    NaN or Infinity (Python's json accepts all three). Raises UnacceptableJSON for those,
    json.JSONDecodeError for text that is not JSON."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise json.JSONDecodeError(f"Bytes decoding error : {error.reason}", doc=str(error.object),
                                       pos=error.start) from error
    return json.loads(data, object_pairs_hook=_object_without_duplicate_keys, parse_int=_bounded_integer,
                      parse_float=_finite_number, parse_constant=_no_constant)


class Parser(FlaskParser):
    # The contract says 400 VALIDATION_ERROR; webargs/flask-smorest default to 422.
    DEFAULT_VALIDATION_STATUS = 400
    # Unknown fields are rejected in query strings too (webargs would silently drop them).
    DEFAULT_UNKNOWN_BY_LOCATION = {**FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
                                   "query": ma.RAISE, "querystring": ma.RAISE}

    def load_json(self, req, schema):
        try:
            return super().load_json(req, schema)
        except RecursionError as error:
            # json.loads recurses once per nesting level: "[[[[..." is bad input, not a 500.
            self._handle_invalid_json_error(error, req)
        except UnacceptableJSON as error:
            abort(400, exc=error, messages={"json": [str(error)]})

    def _raw_load_json(self, req):
        if not is_json_request(req):
            return missing
        return loads_strict(req.get_data(cache=True))


    def load_querystring(self, req, schema):
        # webargs would silently take the first of `?page=1&page=2`; an ambiguous request is a 400.
        proxy = super().load_querystring(req, schema)
        fields = {field.data_key or name: field for name, field in schema.fields.items()}
        repeated = {key: ["Give this parameter at most once."] for key, values in req.args.lists()
                    if len(values) > 1 and key in fields and not proxy._is_multiple(fields[key])}
        if repeated:
            raise ma.ValidationError(repeated)
        return proxy


class NoCookieSessions(SessionInterface):
    """The API is stateless (bearer tokens, no cookies). Flask's cookie session
    built a signing serializer on every request (a tenth of a cached list hit's
    CPU) for nothing; with this, `flask.session` is Flask's NullSession, which
    refuses writes."""

    def open_session(self, app, request):
        return None

    def save_session(self, app, session, response):
        return None


class Blueprint(SmorestBlueprint):
    ARGUMENTS_PARSER = Parser()

    def arguments(self, schema, **kwargs):
        # Given a Schema class, webargs builds an instance on every request (a tenth of a
        # cached list hit's CPU). load() keeps no state on the instance, so one serves all.
        return super().arguments(schema() if isinstance(schema, type) else schema, **kwargs)


class ErrorBodySchema(ma.Schema):
    code = ma.fields.String(required=True, metadata={
        "description": "What went wrong, for programs: each error response names the codes it can carry."})
    details = ma.fields.Dict(required=True, metadata={
        "description": "VALIDATION_ERROR: field name -> messages. Other codes: facts about the refusal, often empty."})


class ErrorEnvelopeSchema(ma.Schema):
    """What evently.errors renders for every failure; documented instead of flask-smorest's own shape."""

    message = ma.fields.String(required=True, metadata={"description": "A sentence for people."})
    error = ma.fields.Nested(ErrorBodySchema, required=True)


ERROR_ENVELOPE = "ErrorEnvelope"
BEARER_AUTH = "bearerAuth"
# Carries a view's declared errors from document_errors to ErrorResponsesPlugin, which removes it.
DECLARED_ERRORS = "x-evently-errors"


def document_errors(*errors, security=None):
    """Decorator declaring the AppError classes a view can answer with, beyond those every
    operation of its shape can (ErrorResponsesPlugin), and optionally its `security`.
    Declarations add up: auth_required declares Unauthorized, the route its own conflicts."""
    for error in errors:
        if not (isinstance(error, type) and issubclass(error, AppError)):
            raise TypeError(f"document_errors() takes AppError classes from evently.errors, not {error!r}")

    def decorator(view):
        apidoc = copy.deepcopy(getattr(view, "_apidoc", {}))
        manual = apidoc.setdefault("manual_doc", {})
        manual[DECLARED_ERRORS] = list(dict.fromkeys([*manual.get(DECLARED_ERRORS, ()), *errors]))
        if security is not None:
            manual["security"] = security
        view._apidoc = apidoc
        return view

    return decorator


def takes_input(operation):
    """A body, query or header parameters, or flask-smorest's 400 for @blp.arguments (a query schema
    without fields still refuses every key)."""
    return ("requestBody" in operation or 400 in operation.get("responses", {})
            or any(parameter.get("in") in ("query", "header") for parameter in operation.get("parameters", ())))


def implied_errors(path, method, operation):
    """What any operation of this shape can answer, whatever its view does."""
    errors = []
    if takes_input(operation):
        errors.append(ValidationError)
    if "{" in path:
        errors.append(NotFound)
    if "requestBody" in operation:  # a body is read only where it is parsed
        errors.append(PayloadTooLarge)
    if method.upper() in BODY_METHODS:  # any body sent to them must be JSON (security.require_json_body)
        errors.append(UnsupportedMediaType)
    return [*errors, RateLimited, Unavailable]  # the default rate limit; PostgreSQL or Redis down


class ErrorResponsesPlugin(BasePlugin):
    """Writes every operation's error responses, one per status: a description naming the codes
    it can carry and, for each code, an example of the envelope. The errors are the ones the
    operation's shape implies plus the ones its view declared with document_errors; nothing
    hides behind `default`. Also gives integer path parameters an example id."""

    def init_spec(self, spec):
        self.spec = spec

    def path_helper(self, path=None, operations=None, parameters=None, **_kwargs):
        for parameter in parameters or ():
            if parameter.get("in") == "path" and parameter.get("schema", {}).get("type") == "integer":
                parameter.setdefault("example", 1)

    def operation_helper(self, path=None, operations=None, **_kwargs):
        for method, operation in (operations or {}).items():
            errors = dict.fromkeys([*implied_errors(path, method, operation), *operation.pop(DECLARED_ERRORS, ())])
            responses = operation.setdefault("responses", {})
            for status, group in _by_status(errors).items():
                responses.pop(status, None)  # flask-smorest's generic reference for arguments' 400
                responses[str(status)] = self._response(status, group, operation)
            operation["responses"] = dict(sorted(responses.items(), key=lambda item: str(item[0])))

    def _response(self, status, errors, operation):
        """A response component named by the code when one code is all it can carry (apispec
        makes the name a $ref); else one written here, its examples named by their codes."""
        if errors == [ValidationError]:
            return self._inline(status, errors, operation)
        if len(errors) == 1:
            code = errors[0].code
            if code not in self.spec.components.responses:
                self.spec.components.response(code, self._inline(status, errors, operation))
            return code
        return self._inline(status, errors, operation)

    def _inline(self, status, errors, operation):
        codes = ", ".join(f"`{error.code}`" for error in errors)
        examples = {error.code: self._example(error, operation) for error in errors}
        return {"description": f"{HTTPStatus(status).phrase}: {codes}.",
                "content": {"application/json": {"schema": ERROR_ENVELOPE, "examples": examples}}}

    def _example(self, error, operation):
        """The example's name in components (apispec makes it a $ref), or an inline example."""
        if error is ValidationError:
            return _validation_example(self.spec, operation)
        if error.code not in self.spec.components.examples:
            self.spec.components.example(error.code, {"summary": error.message, "value": example_envelope(error)})
        return error.code


def _by_status(errors):
    groups = {}
    for error in errors:
        groups.setdefault(error.status, []).append(error)
    return groups


def _validation_example(spec, operation):
    """VALIDATION_ERROR as this operation gives it: its first required body field left out, or
    else a query key it does not know."""
    body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
    name = body.get("$ref", "").rsplit("/", 1)[-1]
    required = spec.components.schemas.get(name, {}).get("required", [])
    details = {required[0]: ["Missing data for required field."]} if required else {"colour": ["Unknown field."]}
    return {"summary": ValidationError.message, "value": error_payload(ValidationError.code, ValidationError.message,
                                                                        details)}


# OpenAPI 3.0.3: `nullable` only widens a `type` in the same schema object, so "an object of
# this schema, or null" is the $ref or an object schema that admits null alone.
NULL_ONLY = {"type": "object", "nullable": True, "enum": [None]}


def nullable_nested(_converter, field, ret, **_kwargs):
    """apispec writes a nullable Nested as anyOf [{type: object, nullable: true}, {$ref}], and
    Swagger UI draws examples from the first branch: `"booking": {}`. The $ref comes first here."""
    if not (isinstance(field, ma.fields.Nested) and field.allow_none and "anyOf" in ret):
        return {}
    refs = [branch for branch in ret.pop("anyOf") if "$ref" in branch]
    return {"anyOf": [*refs, NULL_ONLY]}


class Api(SmorestApi):
    ERROR_SCHEMA = ErrorEnvelopeSchema
    DEFAULT_ERROR_RESPONSE_NAME = None  # every error response is explicit (ErrorResponsesPlugin)

    def init_app(self, app, *, spec_kwargs=None):
        super().init_app(app, spec_kwargs={"extra_plugins": [ErrorResponsesPlugin()], **(spec_kwargs or {})})
        self.spec.components.schema(ERROR_ENVELOPE, schema=ErrorEnvelopeSchema)
        self.spec.components.security_scheme(BEARER_AUTH, {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
        self.ma_plugin.converter.add_attribute_function(nullable_nested)

    def _register_responses(self):
        """flask-smorest's one response per HTTP status would carry no code; ErrorResponsesPlugin writes them."""

    def _register_error_handlers(self):
        """Errors are rendered by evently.errors, not by flask-smorest's default payload."""


def camelcase(name):
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


UNSTORABLE_TEXT = "Text must not contain NUL characters or unpaired surrogates."


def _has_unstorable_text(value):
    pending = [value]  # iterative: JSON may nest deeper than Python's recursion limit allows
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, Mapping):
            pending.extend(item.values())
        elif isinstance(item, (list, tuple)):
            pending.extend(item)
    return False


class Schema(ma.Schema):
    """Base for every input and output schema: camelCase on the wire, unknown keys rejected."""

    class Meta:
        unknown = ma.RAISE
        ordered = True

    def on_bind_field(self, field_name, field_obj):
        field_obj.data_key = camelcase(field_obj.data_key or field_name)

    @ma.pre_load
    def reject_unstorable_text(self, data, **_kwargs):
        """PostgreSQL cannot store NUL or unpaired surrogates; psycopg2 raises, which was a 500."""
        if isinstance(data, Mapping):
            bad = {key: [UNSTORABLE_TEXT] for key, value in data.items() if _has_unstorable_text(value)}
            if bad:
                raise ma.ValidationError(bad)
        return data


class PageQuerySchema(Schema):
    page = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1, max=100_000))
    per_page = ma.fields.Integer(load_default=20, validate=ma.validate.Range(min=1, max=100))


class PageMetaSchema(Schema):
    page = ma.fields.Integer()
    per_page = ma.fields.Integer()
    total = ma.fields.Integer()
    pages = ma.fields.Integer()


def page_meta(*, page, per_page, total):
    return {"page": page, "per_page": per_page, "total": total, "pages": math.ceil(total / per_page) if total else 0}


class MessageSchema(Schema):
    message = ma.fields.String(required=True)


_ENVELOPES = {}


def envelope(data_schema, *, many=False, paginated=False, name=None):
    """A `{message, data[, meta]}` schema around `data_schema`, cached so OpenAPI names stay stable."""
    name = name or f"{data_schema.__name__.removesuffix('Schema')}{'List' if many else ''}Envelope"
    if name in _ENVELOPES:
        return _ENVELOPES[name]
    fields = {
        "message": ma.fields.String(required=True),
        "data": ma.fields.Nested(data_schema, many=many, required=True),
    }
    if paginated:
        fields["meta"] = ma.fields.Nested(PageMetaSchema, required=True)
    _ENVELOPES[name] = type(name, (Schema,), fields)
    return _ENVELOPES[name]


def client_address():
    """Client IP for rate limiting. X-Forwarded-For is honoured only through
    ProxyFix when TRUSTED_PROXY_COUNT > 0, so a spoofed header cannot dodge limits."""
    return request.remote_addr or "unknown"


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON, except that Decimal is written as a JSON number with its
    exact digits (money: 25.00), never as a float or a string. Keys keep the
    schemas' declared order (Flask would sort them)."""

    sort_keys = False

    def dumps(self, obj, **kwargs):
        kwargs.setdefault("default", self.default)
        kwargs.setdefault("ensure_ascii", self.ensure_ascii)
        kwargs.setdefault("sort_keys", self.sort_keys)
        return simplejson.dumps(obj, use_decimal=True, **kwargs)


# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value):
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def csv_response(filename, header, rows, chunk_rows=500):
    """A streamed CSV download: `rows` (an iterable of tuples) is read as the client reads, so
    an export of any size is never held in memory. Text cells that a spreadsheet would run as
    formulas are quoted with a leading apostrophe."""

    def chunks():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        for count, row in enumerate(rows, start=1):
            writer.writerow([csv_cell(value) for value in row])
            if count % chunk_rows == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    response = Response(stream_with_context(chunks()), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


CSV_RESPONSE = {"description": "A CSV file, streamed.", "content": {"text/csv": {"schema": {"type": "string"}}}}
