"""Pages for HTTP errors (registered by Server/ErrorHandler.py). JSON clients get the
body every error gets (flask_keel.errors.render_error); people get a page."""

from __future__ import annotations

from flask import g, render_template, request
from werkzeug.exceptions import InternalServerError, NotFound

from flask_keel.errors import render_error, wants_json


def not_found(error):
    if wants_json():
        # A view's own words ("You have no course 3.") stay; a path nothing serves is named.
        if isinstance(error, NotFound) and error.description != NotFound.description:
            return render_error(error)
        return render_error(NotFound(f"No page or endpoint at {request.path}."))
    return render_template("404.html", path=request.path), 404


def server_error(error):
    # `error` may wrap the original exception; it is logged by the framework and
    # never shown, so no internals reach the visitor.
    if wants_json():
        return render_error(InternalServerError())
    return render_template("500.html", request_id=g.get("request_id")), 500
