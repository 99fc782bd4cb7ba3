"""Structured (JSON) logs that carry the request id."""
import json
import logging
import sys
import time

from flask import g, has_request_context

from evently.common.fields import UTC_FORMAT


class RequestIdFilter(logging.Filter):
    def filter(self, record):
        record.request_id = getattr(g, "request_id", None) if has_request_context() else None
        return True


class JsonFormatter(logging.Formatter):
    converter = time.gmtime  # the API's one timestamp format (evently/common/fields.py): UTC, "Z"

    def format(self, record):
        entry = {
            "ts": self.formatTime(record, UTC_FORMAT),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "requestId": getattr(record, "request_id", None),
        }
        for key in ("method", "path", "status", "durationMs", "userId"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure(app):
    root = logging.getLogger()
    if not any(getattr(h, "_evently", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        handler.addFilter(RequestIdFilter())
        handler._evently = True
        root.addHandler(handler)
    root.setLevel(app.config["LOG_LEVEL"])
    # Alembic announces each of its plugins at INFO on every start; that is noise, not news.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
