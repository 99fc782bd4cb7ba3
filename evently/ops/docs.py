"""The API's front door: `/api` (links to what is served) and Swagger UI at `/api/docs`.

Swagger UI's files come from the pinned flask-swagger-ui package (only its
`dist/` assets; its page template has an inline script). The page here loads
them and `static/swagger-initializer.js` from this origin, so it works offline
and runs under a CSP without 'unsafe-inline' (evently/security.py, DOCS_CSP).
"""
from importlib import resources

import marshmallow as ma
from flask import Blueprint as FlaskBlueprint
from flask import current_app, render_template_string, send_from_directory, url_for

from evently.http import Blueprint, Schema, envelope

SWAGGER_UI_DIST = str(resources.files("flask_swagger_ui") / "dist")

ui = FlaskBlueprint("swagger_ui", __name__, url_prefix="/api/docs", static_folder="static",
                    static_url_path="/evently")
blp = Blueprint("index", __name__, url_prefix="/api", description="Where to start")

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{{ title }}: Swagger UI</title>
  <link rel="stylesheet" href="{{ asset('swagger-ui.css') }}">
  <link rel="stylesheet" href="{{ asset('index.css') }}">
  <link rel="icon" type="image/png" href="{{ asset('favicon-32x32.png') }}" sizes="32x32">
</head>
<body>
  <div id="swagger-ui" data-spec-url="{{ spec_url }}"></div>
  <script src="{{ asset('swagger-ui-bundle.js') }}"></script>
  <script src="{{ url_for('swagger_ui.static', filename='swagger-initializer.js') }}"></script>
</body>
</html>
"""


@ui.get("", strict_slashes=False)
def swagger_ui():
    return render_template_string(PAGE, title=current_app.config["API_TITLE"], spec_url=openapi_url(),
                                  asset=lambda name: url_for("swagger_ui.asset", filename=name))


@ui.get("/<path:filename>")
def asset(filename):
    return send_from_directory(SWAGGER_UI_DIST, filename)


def openapi_url():
    return url_for("api-docs.openapi_json")


class IndexSchema(Schema):
    title = ma.fields.String(required=True, metadata={"example": "Evently API"})
    version = ma.fields.String(required=True, metadata={"example": "1.0.0"})
    links = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String(), required=True,
                           metadata={"example": {"docs": "/api/docs", "openapi": "/api/openapi.json",
                                                 "health": "/healthz"}})


@blp.get("")
@blp.response(200, envelope(IndexSchema))
def index():
    """Where the documentation, the OpenAPI document and the health checks are."""
    config = current_app.config
    links = {
        "docs": url_for("swagger_ui.swagger_ui"),
        "openapi": openapi_url(),
        "health": url_for("ops.healthz"),
        "ready": url_for("ops.readyz"),
        "metrics": url_for("ops.metrics"),
        "events": url_for("events.list_events"),
    }
    return {"message": f"{config['API_TITLE']} {config['API_VERSION']}: start with the docs.",
            "data": {"title": config["API_TITLE"], "version": config["API_VERSION"], "links": links}}
