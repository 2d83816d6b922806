"""The AsyncAPI 3.0 document of an app's Socket.IO side, from the same code as the
OpenAPI one: each named request as an `rpc` event with its payload struct and
its ack, the events Server/Socket.py handles, and the pushes a client may get:
the jobs' (`job.progress`, `job.done`, `job.failed`) and every
`notify(user, "event", {...})` / `broadcast("event", {...})` with a literal event
name in the project's modules.
"""

from __future__ import annotations

import ast
import inspect
import sys
from typing import Any

import msgspec
from flask import Flask

from flask_keel.openapi.document import ERROR_BODY, project_version
from flask_keel.openapi.schemas import Schemas
from flask_keel.openapi.views import resolve, view_facts
from flask_keel.rpc import router

ASYNCAPI_VERSION = "3.0.0"
SOCKET_EVENTS_HANDLED = {"connect", "disconnect", "rpc"}


class JobProgress(msgspec.Struct):
    """Pushed as a job runs (flask_keel.jobs.progress)."""

    id: str
    task: str
    percent: float
    text: str


class JobDone(msgspec.Struct):
    """Pushed when a job returns; `message` when its result carried one."""

    id: str
    task: str
    result: Any
    message: str | msgspec.UnsetType = msgspec.UNSET


class JobFailed(msgspec.Struct):
    """Pushed when a job has failed for good (no retries left)."""

    id: str
    task: str
    error: str
    message: str


FRAMEWORK_PUSHES: dict[str, type] = {"job.progress": JobProgress, "job.done": JobDone, "job.failed": JobFailed}


def _project_modules(app: Flask) -> list[Any]:
    """The modules of the packages the app's views come from (Controllers.*), loaded."""
    packages = {view.__module__.split(".", 1)[0] for view in app.view_functions.values()
                if getattr(view, "__module__", "").split(".", 1)[0] not in ("flask_keel", "flask")}
    return [module for name, module in sorted(sys.modules.items())
            if module is not None and name.split(".", 1)[0] in packages]


def _literal_shape(node: ast.AST) -> dict[str, Any]:
    """The schema a dict literal promises: its keys (values are any JSON); anything else: any JSON."""
    if isinstance(node, ast.Dict) and all(isinstance(key, ast.Constant) and isinstance(key.value, str)
                                          for key in node.keys):
        keys = [key.value for key in node.keys]  # type: ignore[union-attr]
        return {"type": "object", "properties": {key: {} for key in keys}, "required": keys}
    return {}


def project_pushes(app: Flask) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """{event: payload schema} of every notify/broadcast with a literal event name, and
    where an event's name is computed (`module.function`), as push.me's is."""
    from flask_keel.realtime import broadcast, notify

    found: dict[str, dict[str, Any]] = {}
    computed: list[str] = []
    for module in _project_modules(app):
        try:
            tree = ast.parse(inspect.getsource(module))
        except (OSError, TypeError, SyntaxError):
            continue
        for function in ast.walk(tree):
            if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                _pushes_in(function, module, notify, broadcast, found, computed)
    return dict(sorted(found.items())), sorted(set(computed))


def _pushes_in(function: ast.AST, module: Any, notify: Any, broadcast: Any, found: dict[str, Any],
               computed: list[str]) -> None:
    """The pushes of one function: literal event names found, computed ones noted."""
    for node in ast.walk(function):
        if not isinstance(node, ast.Call):
            continue
        callee = resolve(node.func, vars(module))
        position = 1 if callee is notify else 0 if callee is broadcast else None
        if position is None or len(node.args) <= position:
            continue
        event = node.args[position]
        if isinstance(event, ast.Constant) and isinstance(event.value, str):
            data = node.args[position + 1] if len(node.args) > position + 1 else None
            found[event.value] = _literal_shape(data) if data is not None else {}
        else:
            computed.append(f"{module.__name__}.{function.name}")  # type: ignore[attr-defined]


def _message(name: str, summary: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "summary": summary or name, "contentType": "application/json", "payload": payload}


def asyncapi_document(app: Flask) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of `app`'s Socket.IO events and pushes."""
    schemas = Schemas()
    messages: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    rpc_messages: dict[str, Any] = {}
    ack_messages: dict[str, Any] = {}
    for name, view in sorted(router(app).views.items()):
        facts = view_facts(view)
        summary = (facts.description or "").split("\n", 1)[0]
        key = f"rpc.{name}"
        payload = schemas.of(facts.body)
        messages[key] = _message(key, summary, {
            "type": "object", "required": ["name"], "additionalProperties": False,
            "properties": {"name": {"const": name}, "payload": payload}})
        result = schemas.of(facts.returns)
        messages[f"{key}.ack"] = _message(f"{key}.ack", f"The ack of {name}", {"oneOf": [
            {"type": "object", "required": ["ok", "result"],
             "properties": {"ok": {"const": True}, "result": result}},
            {"$ref": "#/components/schemas/RpcFailure"}]})
        rpc_messages[key] = {"$ref": f"#/components/messages/{key}"}
        ack_messages[f"{key}.ack"] = {"$ref": f"#/components/messages/{key}.ack"}
        operations[key] = {
            "action": "receive", "channel": {"$ref": "#/channels/rpc"}, "summary": summary or name,
            "messages": [{"$ref": f"#/channels/rpc/messages/{key}"}],
            "reply": {"channel": {"$ref": "#/channels/rpcAck"},
                      "messages": [{"$ref": f"#/channels/rpcAck/messages/{key}.ack"}]},
        }
    channels: dict[str, Any] = {
        "rpc": {"address": "rpc", "title": "Named requests",
                "description": 'emit("rpc", {"name": ..., "payload": ...}, ack): the named requests of the '
                               "OpenAPI document, over the socket.", "messages": rpc_messages},
        "rpcAck": {"address": None, "title": "Acks of named requests", "messages": ack_messages},
    }
    handlers = _socket_handlers(app)
    for event, handler in handlers.items():
        facts = view_facts(handler)
        messages[event] = _message(event, (facts.description or "").split("\n", 1)[0], schemas.of(facts.body))
        channels[event] = {"address": event, "messages": {event: {"$ref": f"#/components/messages/{event}"}}}
        operations[f"on.{event}"] = {"action": "receive", "channel": {"$ref": f"#/channels/{event}"},
                                     "messages": [{"$ref": f"#/channels/{event}/messages/{event}"}]}
    pushes = {event: schemas.of(kind) for event, kind in FRAMEWORK_PUSHES.items()}
    literal, computed = project_pushes(app)
    pushes.update(literal)
    if computed:
        messages["named"] = _message("named", "A push whose name the code computes", {})
        channels["named"] = {
            "address": "{event}", "title": "Pushes named at run time",
            "description": "Sent by " + ", ".join(computed) + " (push.me: the event and data you name, "
                           "e.g. `note`).",
            "parameters": {"event": {"description": "the event's name"}},
            "messages": {"named": {"$ref": "#/components/messages/named"}}}
        operations["push.named"] = {"action": "send", "channel": {"$ref": "#/channels/named"},
                                    "messages": [{"$ref": "#/channels/named/messages/named"}]}
    for event, payload in pushes.items():
        described = FRAMEWORK_PUSHES.get(event)
        summary = inspect.getdoc(described) if described else "Pushed by the project (notify/broadcast)."
        messages[event] = _message(event, summary or event, payload)
        channels[event] = {"address": event, "messages": {event: {"$ref": f"#/components/messages/{event}"}}}
        operations[f"push.{event}"] = {"action": "send", "channel": {"$ref": f"#/channels/{event}"},
                                       "messages": [{"$ref": f"#/channels/{event}/messages/{event}"}]}
    components = schemas.finish()
    components["RpcFailure"] = {
        "type": "object", "required": ["ok", "status", "error", "message"],
        "properties": {"ok": {"const": False}, "status": {"type": "integer"},
                       **{key: value for key, value in ERROR_BODY["properties"].items()}}}
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {"title": f"{app.config.get('APP_NAME', 'API')} (Socket.IO)", "version": project_version(app),
                 "description": "Socket.IO on /socket.io/ (same origin, a signed-in session and its CSRF token "
                                "as auth.csrf_token). A client sends named requests as the `rpc` event and gets "
                                "pushes sent to its user's room."},
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"schemas": components, "messages": messages},
    }


def _socket_handlers(app: Flask) -> dict[str, Any]:
    """Events the project's Server/Socket.py handles, besides connect, disconnect and rpc."""
    socketio = app.extensions.get("socketio")
    handlers = getattr(getattr(socketio, "server", None), "handlers", None) or {}
    events = handlers.get("/", {}) if isinstance(handlers, dict) else {}
    return {event: handler for event, handler in sorted(events.items())
            if event not in SOCKET_EVENTS_HANDLED and callable(handler)}
