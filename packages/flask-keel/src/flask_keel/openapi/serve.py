"""Serving the descriptions: GET /ws/openapi.json, GET /ws/asyncapi.json and the docs
page, GET /api/docs (Swagger UI from static/vendor/swagger-ui, the project's
template api_docs.html).

FLASK.CONFIG.API_DOCS turns all three on or off: on unless SERVER_ENV.ENV is PROD.
Off, the routes do not exist (404): a production API does not advertise itself
unless its config says so.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, current_app, jsonify, render_template, url_for
from jinja2 import TemplateNotFound
from werkzeug.exceptions import NotFound

from flask_keel.openapi.asyncapi import asyncapi_document
from flask_keel.openapi.document import openapi_document

CONFIG_KEY = "API_DOCS"
DOCUMENTS_KEY = "flask_keel.openapi.documents"
DOCS_TEMPLATE = "api_docs.html"

docs = Blueprint("api_docs", __name__)


def _cached(name: str, build) -> dict[str, Any]:
    """Each document is built once per app, at its first request: the routes are all there by then."""
    documents = current_app.extensions.setdefault(DOCUMENTS_KEY, {})
    if name not in documents:
        documents[name] = build(current_app._get_current_object())
    return documents[name]


@docs.get("/ws/openapi.json")
def openapi_json():
    """This API's OpenAPI 3.1 document: every JSON endpoint and named request."""
    return jsonify(_cached("openapi", openapi_document))


@docs.get("/ws/asyncapi.json")
def asyncapi_json():
    """The Socket.IO side as an AsyncAPI 3.0 document: the events a client sends, the pushes it gets."""
    return jsonify(_cached("asyncapi", asyncapi_document))


@docs.get("/api/docs")
def docs_page():
    try:
        return render_template(DOCS_TEMPLATE, openapi_url=url_for("api_docs.openapi_json"),
                               asyncapi_url=url_for("api_docs.asyncapi_json"))
    except TemplateNotFound:
        raise NotFound("This project has no API docs page (template/api_docs.html).") from None


def register_api_docs(app: Flask, production: bool) -> None:
    """Serve the documents and the docs page when FLASK.CONFIG.API_DOCS (default: not PROD) says so."""
    if app.config.setdefault(CONFIG_KEY, not production):
        app.register_blueprint(docs)
