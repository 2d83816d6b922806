"""Named requests: one mapping from a name to a view, served as
`POST /ws/<name>` (JSON in, JSON out) and as the Socket.IO `rpc` event with an ack.

    # Server/WS.py
    from flask_keel.rpc import router
    router(server).map({"courses.list": Controllers.RPC.SchoolViews.list_courses})

    # Controllers/RPC/SchoolViews.py
    def list_courses(request):                 # request: RpcRequest
        query = request.parse(CourseQuery)     # 400 naming the field when it does not fit
        return [course for course in ...]      # any JSON-able value

Views need a logged-in user unless decorated with @public. A view may raise an
HTTPException (abort(403, "...")) to answer with that status.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import msgspec
from flask import Flask, current_app, g
from werkzeug.exceptions import HTTPException, NotFound

from flask_keel.request_id import new_request_id
from flask_keel.rpc.http import add_http_rule

log = logging.getLogger(__name__)

T = TypeVar("T")
ROUTER_KEY = "flask_keel.rpc"
NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,99}$")


class UnknownRequest(NotFound):
    error_code = "unknown_request"


@dataclass
class RpcRequest:
    """What a view receives: the name, the payload, the user and the session."""

    name: str
    payload: Any
    user: Any
    session: Any
    transport: str  # "http" or "socket"
    request_id: str = field(default_factory=new_request_id)

    def parse(self, kind: type[T]) -> T:
        """The payload as `kind` (a msgspec Struct), or a 400 that names the field."""
        from flask_keel.payloads import check_json_payload, decode

        check_json_payload(self.payload)
        return decode(msgspec.json.encode(self.payload), kind)


def public(view: Callable) -> Callable:
    """Let anonymous clients call this view."""
    view.rpc_public = True
    return view


def named_request(blueprint: Any, name: str, *, public: bool = False) -> Callable[[Callable], Callable]:
    """Serve the decorated view as the named request `name` (`POST /ws/<name>` and the
    Socket.IO `rpc` event) in every app the blueprint is registered on.

        api = Blueprint("rooms_api", __name__, url_prefix="/ws")

        @named_request(api, "rooms.list")
        def list_rooms(request: RpcRequest): ...
    """

    def register(view: Callable) -> Callable:
        if public:
            view.rpc_public = True  # type: ignore[attr-defined]
        blueprint.record_once(lambda state: router(state.app).map({name: view}))
        return view

    return register


class Router:
    def __init__(self, app: Flask) -> None:
        self.app = app
        self.views: dict[str, Callable[[RpcRequest], Any]] = {}

    def map(self, mapping: dict[str, Callable[[RpcRequest], Any]]) -> Router:
        for name, view in mapping.items():
            if not NAME_PATTERN.match(name):
                raise ValueError(f"request name {name!r} must match {NAME_PATTERN.pattern}")
            if not callable(view):
                raise TypeError(f"the view for {name!r} is not callable")
            self.views[name] = view
            add_http_rule(self.app, name, view, dispatch)
        return self

    def view(self, name: str) -> Callable[[RpcRequest], Any]:
        view = self.views.get(name) if isinstance(name, str) else None
        if view is None:
            raise UnknownRequest(f"There is no request named {name!r}.")
        return view


def router(app: Flask | None = None) -> Router:
    """The app's router (created on first use)."""
    app = app or current_app._get_current_object()
    if ROUTER_KEY not in app.extensions:
        app.extensions[ROUTER_KEY] = Router(app)
    return app.extensions[ROUTER_KEY]


def dispatch(name: str, payload: Any, transport: str) -> Any:
    """Run the named view for the current user. Raises HTTPException subclasses for 4xx."""
    from flask import session

    from flask_keel.auth import NotLoggedIn, current_user

    view = router().view(name)
    if not getattr(view, "rpc_public", False) and not current_user.is_authenticated:
        raise NotLoggedIn()
    user = current_user._get_current_object() if current_user.is_authenticated else None
    request = RpcRequest(name, payload, user, session, transport, g.get("request_id") or new_request_id())
    return view(request)


def error_body(exc: HTTPException, request_id: str | None) -> dict[str, Any]:
    from flask_keel.errors import error_body as http_error_body

    return {**http_error_body(exc), "request_id": request_id}
