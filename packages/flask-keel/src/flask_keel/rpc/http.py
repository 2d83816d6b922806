"""`POST /ws/<name>`: a named request over HTTP.

Each name the router maps gets a URL rule of its own, POST only: an unknown
name is 404 like any other missing path, GET on a known one is 405, and
`OPTIONS` on other /ws/ routes advertises only their own methods.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, request

from flask_keel.payloads import decode, require_json_type
from flask_keel.rpc.encoding import to_json

ENDPOINT_PREFIX = "named-request:"

# router.dispatch: (name, payload, transport) -> the view's result. Handed in by the
# router, which imports this module (never the other way round).
Dispatch = Callable[[str, Any, str], Any]


def http_view(name: str, view: Callable[..., Any], dispatch: Dispatch) -> Callable[[], Response]:
    def call() -> Response:
        body = request.get_data(cache=True)
        if body:
            require_json_type()  # text/plain is not taken for JSON: 415
        # Any JSON at all (the view's own struct checks it further); no body is None.
        payload = decode(body, Any) if body else None
        return Response(to_json(dispatch(name, payload, "http")), mimetype="application/json")

    # The view's own attributes (@public, @body_limit) travel with it.
    return functools.update_wrapper(call, view)


def add_http_rule(app: Flask, name: str, view: Callable[..., Any], dispatch: Dispatch) -> None:
    path = f"/ws/{name}"
    for rule in app.url_map.iter_rules():
        if rule.rule == path and not rule.endpoint.startswith(ENDPOINT_PREFIX) and "POST" in (rule.methods or ()):
            raise ValueError(f"the named request {name!r} would answer POST {path}, which {rule.endpoint} serves")
    endpoint = ENDPOINT_PREFIX + name
    if endpoint in app.view_functions:  # mapped again (a new view for the name): the rule stays
        app.view_functions[endpoint] = http_view(name, view, dispatch)
        return
    app.add_url_rule(path, endpoint, http_view(name, view, dispatch), methods=["POST"])
