"""What every test needs: /ws/info, and the named requests ping (public), echo, whoami, push.me."""

from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from flask import Blueprint, current_app, jsonify

from flask_keel.realtime import notify
from flask_keel.rpc import named_request

api = Blueprint("basics", __name__, url_prefix="/ws")


@api.get("/info")
def info():
    return jsonify(name=current_app.config["APP_NAME"], env=current_app.config["APP_ENV"])


@named_request(api, "ping", public=True)
def ping(request):
    return {"pong": True, "server_time": datetime.now(UTC)}


@named_request(api, "echo")
def echo(request):
    return {"echo": request.payload}


@named_request(api, "whoami")
def whoami(request):
    return request.user.to_dict()


class PushIn(msgspec.Struct, forbid_unknown_fields=True):
    event: Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_.-]{0,49}$")]
    data: Any = None


@named_request(api, "push.me")
def push_me(request):
    push = request.parse(PushIn)
    notify(request.user, push.event, push.data)
    return {"sent": True}
