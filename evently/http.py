"""HTTP building blocks: the Api/Blueprint that answer bad input with 400, the
camelCase Schema base that rejects unknown keys, response envelopes and pagination."""
import math

import marshmallow as ma
from flask import request
from flask_smorest import Api as SmorestApi
from flask_smorest import Blueprint as SmorestBlueprint
from webargs.flaskparser import FlaskParser


class Parser(FlaskParser):
    # The contract says 400 VALIDATION_ERROR; webargs/flask-smorest default to 422.
    DEFAULT_VALIDATION_STATUS = 400


class Blueprint(SmorestBlueprint):
    ARGUMENTS_PARSER = Parser()


class Api(SmorestApi):
    def _register_error_handlers(self):
        """Errors are rendered by evently.errors, not by flask-smorest's default payload."""


def camelcase(name):
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


class Schema(ma.Schema):
    """Base for every input and output schema: camelCase on the wire, unknown keys rejected."""

    class Meta:
        unknown = ma.RAISE
        ordered = True

    def on_bind_field(self, field_name, field_obj):
        field_obj.data_key = camelcase(field_obj.data_key or field_name)


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
