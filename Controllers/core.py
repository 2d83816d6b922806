"""What every app has: the home page, what the service is, and named requests to
try a client with (ping, echo, whoami, push.me)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from flask import Blueprint, Response, current_app, jsonify, render_template

from flask_keel.realtime import notify
from flask_keel.rpc import RpcRequest, named_request

pages = Blueprint("core", __name__)
api = Blueprint("core_api", __name__, url_prefix="/ws")


@pages.get("/")
def home():
    return render_template("home.html", app_name=current_app.config["APP_NAME"])


class Info(msgspec.Struct):
    """What /ws/info answers (its declared shape, read by the API's description)."""

    name: str
    env: str


@api.get("/info")
def info() -> Annotated[Response, Info]:
    """What this service is, for clients checking they reached the right one."""
    return jsonify(name=current_app.config["APP_NAME"], env=current_app.config["APP_ENV"])


@named_request(api, "ping", public=True)
def ping(request: RpcRequest) -> dict[str, Any]:
    """Public, so it answers the same whatever was sent: nothing of the payload comes back."""
    return {"pong": True, "server_time": datetime.now(UTC)}


@named_request(api, "echo")
def echo(request: RpcRequest) -> dict[str, Any]:
    """What you sent, back (signed-in users only: a public echo is an amplifier)."""
    return {"echo": request.payload}


@named_request(api, "whoami")
def whoami(request: RpcRequest) -> dict[str, Any]:
    """The signed-in user."""
    return request.user.to_dict()


class PushIn(msgspec.Struct, forbid_unknown_fields=True):
    event: Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_.-]{0,49}$")]
    data: Any = None


@named_request(api, "push.me")
def push_to_me(request: RpcRequest) -> dict[str, bool]:
    """Send yourself a server push (to try a client's `on(event, fn)`)."""
    push = request.parse(PushIn)
    notify(request.user, push.event, push.data)
    return {"sent": True}
