"""Per-request hooks: request id, JSON-only request bodies, Helmet-equivalent security headers,
caching and CORS-variance headers, access log."""
import logging
import re
import secrets
import time

from flask import g, request
from werkzeug.exceptions import UnsupportedMediaType

log = logging.getLogger("evently.access")

SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

# What helmet() sets by default, adapted to a JSON API (plus the CSP that /api/docs needs).
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Strict-Transport-Security": "max-age=15552000; includeSubDomains",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "X-DNS-Prefetch-Control": "off",
    "X-Download-Options": "noopen",
    "X-Permitted-Cross-Domain-Policies": "none",
    "Origin-Agent-Cluster": "?1",
}
API_CSP = "default-src 'none'; frame-ancestors 'none'"
# Swagger UI is served from this origin (evently/ops/docs.py) with no inline script or
# style; its stylesheet draws its icons as data: URIs. tests/browser proves it renders.
DOCS_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def new_request_id():
    """32 random hex digits, as uuid4().hex gave (bar its 6 fixed bits), without building a UUID."""
    return secrets.token_hex(16)


def assign_request_id():
    incoming = request.headers.get("X-Request-ID", "")
    # Echo a client's id only if it is safe to log and to put back in a header.
    g.request_id = incoming if SAFE_REQUEST_ID.match(incoming) else new_request_id()
    g.started_at = time.perf_counter()


BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
API_PATH = "/api/"
AUTH_PATH = "/api/auth/"


def require_json_body():
    """415 for a non-JSON body sent to the API; webargs would silently ignore it
    and answer with misleading "missing field" errors."""
    if request.method not in BODY_METHODS or not request.path.startswith("/api/"):
        return
    chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    if (request.content_length or chunked) and not request.is_json:
        raise UnsupportedMediaType()


class SecurityHeaders:
    """WSGI middleware adding the constant security headers to every response, Flask's or
    not, unless the response set its own. Added as ready (name, value) pairs when the
    response starts: through werkzeug's Headers each of the eleven would be validated again
    on every response, a large share of a cached list hit (docs/benchmarks.md)."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        constant = _DOCS_HEADERS if environ.get("PATH_INFO", "").startswith("/api/docs") else _API_HEADERS

        def start(status, headers, exc_info=None):
            present = {name.lower() for name, _value in headers}
            headers.extend(pair for lowered, pair in constant if lowered not in present)
            return start_response(status, headers, exc_info)

        return self.wsgi_app(environ, start)


def _constant_headers(csp):
    return tuple((name.lower(), (name, value))
                 for name, value in (*SECURITY_HEADERS.items(), ("Content-Security-Policy", csp)))


_API_HEADERS = _constant_headers(API_CSP)
_DOCS_HEADERS = _constant_headers(DOCS_CSP)


def add_headers(response):
    """What depends on the request: caching, CORS variance, the request id."""
    headers = response.headers
    path = request.path
    if path.startswith(AUTH_PATH) or "Authorization" in request.headers:
        # Tokens, and answers about one person: no browser, proxy or CDN may keep a copy.
        headers["Cache-Control"] = "no-store"
    if path.startswith(API_PATH):
        # flask-cors answers each Origin differently (an allowed one is echoed, others get
        # nothing) but says so only sometimes; a cache must never hand one origin's answer to another.
        vary_on_origin(headers)
    headers["X-Request-ID"] = getattr(g, "request_id", None) or new_request_id()
    headers.pop("Server", None)
    return response


def vary_on_origin(headers):
    """Add Origin to Vary (werkzeug's response.vary parses and rewrites the whole header each time)."""
    vary = headers.get("Vary")
    if not vary:
        headers["Vary"] = "Origin"
    elif "origin" not in {token.strip().lower() for token in vary.split(",")}:
        headers["Vary"] = f"{vary}, Origin"


def log_request(response):
    if not log.isEnabledFor(logging.INFO):  # LOG_LEVEL=WARNING turns the access log off: build nothing
        return response
    started = getattr(g, "started_at", None)
    duration = round((time.perf_counter() - started) * 1000, 2) if started else None
    log.info("request", extra={"method": request.method, "path": request.path,
                               "status": response.status_code, "durationMs": duration})
    return response


def init_app(app):
    app.wsgi_app = SecurityHeaders(app.wsgi_app)
    app.before_request(assign_request_id)
    app.before_request(require_json_body)
    app.after_request(add_headers)
    app.after_request(log_request)
