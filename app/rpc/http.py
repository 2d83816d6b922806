"""`POST /ws/<name>`: a named request over HTTP.

The rule matches only names the router knows (see RequestNameConverter), so
every other /ws/ path is routed as usual: 404 when nothing is there, 405 when
a page exists for another method.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, current_app, request
from werkzeug.exceptions import MethodNotAllowed
from werkzeug.routing import BaseConverter, ValidationError

from app.payloads import decode
from app.rpc.encoding import to_json
from app.rpc.router import dispatch, router

rpc_http = Blueprint("rpc", __name__)


class RequestNameConverter(BaseConverter):
    regex = r"[A-Za-z][A-Za-z0-9_.-]{0,99}"

    def to_python(self, value: str) -> str:
        if value not in router(current_app).views:
            raise ValidationError()
        return value


# Every method, because werkzeug decides 405 before it runs converters: a POST-only
# rule would turn GET /ws/<anything> into 405 instead of 404.
@rpc_http.route("/ws/<request_name:name>", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])
def call(name: str):
    if request.method != "POST":
        raise MethodNotAllowed(valid_methods=["POST"], description="Named requests are sent with POST.")
    body = request.get_data(cache=True)
    # Any JSON at all (the view's own struct checks it further); no body is None.
    payload = decode(body, Any) if body else None
    result = dispatch(name, payload, "http")
    return Response(to_json(result), mimetype="application/json")


def init_rpc_http(app: Flask) -> None:
    app.url_map.converters["request_name"] = RequestNameConverter
    app.register_blueprint(rpc_http)
