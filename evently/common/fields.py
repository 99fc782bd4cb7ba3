"""Marshmallow fields and validators shared by every domain."""
import unicodedata
from datetime import timezone
from decimal import ROUND_HALF_UP, Decimal

import marshmallow as ma


UTC_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def utc_timestamp(moment):
    """The one way Evently writes an instant: ISO 8601, UTC, whole seconds, "Z" (2026-12-01T19:00:00Z)."""
    return moment.astimezone(timezone.utc).strftime(UTC_FORMAT)


class UtcDateTime(ma.fields.AwareDateTime):
    """ISO 8601 in UTC with a Z suffix on output; input must carry an offset."""

    default_error_messages = {"out_of_range": "The moment falls outside the years 1 to 9999 in UTC."}

    def __init__(self, **kwargs):
        super().__init__(format="iso", default_timezone=None, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return utc_timestamp(value)

    def _deserialize(self, value, attr, data, **kwargs):
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            return moment.astimezone(timezone.utc)
        except OverflowError:  # valid ISO 8601 beyond Python: 0001-01-01T00:00:00+05:00 is year 0 in UTC
            raise self.make_error("out_of_range") from None


class Money(ma.fields.Decimal):
    """NUMERIC in the database and a Decimal end to end; on the wire a JSON
    number with exactly 2 decimals (25.00), written by evently.http.JSONProvider."""

    def __init__(self, **kwargs):
        super().__init__(places=2, rounding=ROUND_HALF_UP, allow_nan=False, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


class StrictBoolean(ma.fields.Boolean):
    """A JSON true or false only: marshmallow would also take 0, 1, "yes", "on" or "true",
    which the documented `boolean` does not allow."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


# single_line as an OpenAPI (ECMA) pattern, for clients and fuzzers: no character of Unicode category Cc.
SINGLE_LINE_PATTERN = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$"


def single_line(value):
    """Text shown on one line (a title, a venue): control characters (CR, LF, TAB, ...) are refused,
    because such text also ends up in mail subjects, where a line break is a header injection."""
    if any(unicodedata.category(char) == "Cc" for char in value):
        raise ma.ValidationError("Must not contain control characters such as line breaks or tabs.")


def not_blank(value):
    """Text that is only whitespace says nothing (a title, a name); the services store it stripped."""
    if not value.strip():
        raise ma.ValidationError("Must not be blank.")
