"""Default responses for HTTP errors, used where Server/ErrorHandler.py registers none.

JSON for API clients (paths under /ws/, or a request that prefers JSON), HTML
otherwise. The body says what went wrong in words and carries the request id;
it never holds a traceback.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, current_app, render_template, request
from jinja2 import TemplateNotFound
from werkzeug.exceptions import HTTPException, InternalServerError

from flask_keel.request_id import current_request_id

log = logging.getLogger(__name__)

API_PREFIXES = ("/ws/", "/healthz", "/readyz")


def wants_json() -> bool:
    if request.path.startswith(API_PREFIXES) or request.is_json:
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def error_code(exc: HTTPException) -> str:
    explicit = getattr(exc, "error_code", None)
    if explicit:
        return explicit
    return (exc.name or "error").lower().replace(" ", "_").replace("'", "")


def error_body(exc: HTTPException) -> dict[str, object]:
    """`field` is one shape everywhere: a string (the columns of a key of several joined
    by ",", as in "student_id,course_id") or null; `fields`, when the error has them, a list."""
    body: dict[str, object] = {"error": error_code(exc), "message": exc.description,
                               "request_id": current_request_id(None)}
    if hasattr(exc, "field"):
        fields = getattr(exc, "fields", None)
        if isinstance(exc.field, (list, tuple)):
            fields = exc.field
        body["field"] = (",".join(fields) or None) if isinstance(exc.field, (list, tuple)) else exc.field
        if fields is not None:
            body["fields"] = list(fields)
    return body


def render_error(exc: HTTPException) -> Response:
    """The response for an HTTP error: JSON for API clients, the error page otherwise."""
    status = exc.code or 500
    if wants_json():
        response = current_app.json.response(error_body(exc))
    else:
        try:
            response = current_app.make_response(
                (render_template("error.html", error=exc, request_id=current_request_id(None)), status))
        except TemplateNotFound:
            return exc.get_response()
    response.status_code = status
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def handle_http_exception(exc: HTTPException) -> Response:
    if isinstance(exc, InternalServerError) and exc.original_exception is not None:
        log.error("unhandled exception on %s %s", request.method, request.path,
                  exc_info=exc.original_exception)
        # The original message may hold internals; the user gets the generic one.
        exc = InternalServerError()
    return render_error(exc)


def register_default_error_handlers(app: Flask) -> None:
    # Keyed by HTTPException: Flask tries handlers registered for a status code
    # (the user's) before class-wide ones, so this only fills the gaps.
    app.register_error_handler(HTTPException, handle_http_exception)


__all__ = ["error_body", "render_error", "wants_json"]
