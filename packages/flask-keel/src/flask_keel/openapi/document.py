"""The OpenAPI 3.1 document of an app's JSON endpoints (every rule under /ws/,
named requests included), built from its URL map, its router and its views' code.

Responses: the success body is the view's return annotation (a struct, a typed
dict, a list of them; a model with `to_dict()` is that method's annotation),
any JSON when the view declares none. Every error a route can answer is listed
with the body flask_keel.errors sends.
"""

from __future__ import annotations

import re
import tomllib
import types
import typing
from pathlib import Path
from typing import Any

from flask import Flask, Response
from werkzeug.routing import Rule
from werkzeug.routing.converters import (
    AnyConverter,
    BaseConverter,
    IntegerConverter,
    NumberConverter,
    PathConverter,
    UUIDConverter,
)

from flask_keel.openapi.schemas import Schemas, field_type, struct_fields
from flask_keel.openapi.views import ViewFacts, view_facts
from flask_keel.request_limits import BODY_METHODS
from flask_keel.rpc.http import ENDPOINT_PREFIX

OPENAPI_VERSION = "3.1.0"
API_PREFIX = "/ws/"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Methods whose body a view reads (DELETE bodies are not documented: no view reads one).
BODY_READING = frozenset({"POST", "PUT", "PATCH"})
CSRF_HEADER = "X-CSRFToken"
# The documents' own routes (openapi.serve): served or not by the config, never described,
# so the document is the same whatever FLASK.CONFIG.API_DOCS says.
SELF_PREFIX = "api_docs."

ERROR_BODY = {
    "type": "object",
    "description": "Every error a JSON client gets (flask_keel.errors.error_body).",
    "properties": {
        "error": {"type": "string", "description": "a code: invalid_payload, not_logged_in, csrf_failed, ..."},
        "message": {"type": "string", "description": "what went wrong, in words"},
        "request_id": {"type": ["string", "null"], "description": "quote it when reporting a problem"},
        "field": {"type": ["string", "null"], "description": "the field or query argument at fault"},
        "fields": {"type": "array", "items": {"type": "string"}, "description": "the fields at fault, when several"},
    },
    "required": ["error", "message", "request_id"],
}

# What each error status means; _error_statuses says which of them an operation can answer.
ERRORS: dict[int, str] = {
    400: "The body, a query argument, the Host or the CSRF token is refused; `field` names the field at fault.",
    401: "Not signed in.",
    403: "Signed in, but not allowed to do this.",
    404: "Nothing by that name or id.",
    408: "The body did not arrive in time.",
    409: "It conflicts with what is stored (a duplicate).",
    413: "The body is larger than this endpoint accepts.",
    415: "The body is not sent as JSON (Content-Type: application/json).",
    429: "Too many attempts from this address; Retry-After says when to try again.",
    503: "A database or the session store is unavailable; try again shortly.",
}


def _error_statuses(method: str, needs_login: bool, has_path_args: bool, json_only: bool,
                    facts: ViewFacts) -> list[int]:
    statuses = {400, 503}
    if needs_login:
        statuses |= {401, 403, 404}
    if has_path_args:
        statuses.add(404)
    if method in UNSAFE_METHODS:
        statuses.add(409)
    if method in BODY_METHODS:
        statuses |= {408, 413}
    if json_only:
        statuses.add(415)
    if facts.rate_limited:
        statuses.add(429)
    statuses |= {status for status in facts.errors if status in ERRORS}
    return sorted(statuses)


def _converter_schema(converter: BaseConverter) -> dict[str, Any]:
    """What a URL converter accepts, as a schema (werkzeug's and flask_keel.routing's)."""
    if isinstance(converter, NumberConverter):
        schema: dict[str, Any] = {"type": "integer" if isinstance(converter, IntegerConverter) else "number"}
        if not converter.signed:
            schema["minimum"] = 0
        if converter.min is not None:
            schema["minimum"] = converter.min
        if converter.max is not None:
            schema["maximum"] = converter.max
        return schema
    if isinstance(converter, UUIDConverter):
        return {"type": "string", "format": "uuid"}
    if isinstance(converter, AnyConverter):
        return {"type": "string", "enum": sorted(converter.items)}
    if isinstance(converter, PathConverter):
        return {"type": "string", "minLength": 1}
    schema = {"type": "string", "minLength": getattr(converter, "minlength", 1) or 1, "pattern": "^[^/]+$"}
    if getattr(converter, "maxlength", None):
        schema["maxLength"] = converter.maxlength
    return schema


def _path(rule: Rule) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)


def _path_parameters(rule: Rule) -> list[dict[str, Any]]:
    return [{"name": name, "in": "path", "required": True, "schema": _converter_schema(converter)}
            for name, converter in rule._converters.items()]  # noqa: SLF001 - werkzeug keeps them only here


def _without_null(kind: Any) -> Any:
    """A query argument is never null: `Id | None` is an optional Id."""
    args = [arg for arg in typing.get_args(kind) if arg is not type(None)]
    if typing.get_origin(kind) in (typing.Union, types.UnionType) and len(args) == 1:
        return args[0]
    return kind


def _query_parameters(kind: type, schemas: Schemas) -> list[dict[str, Any]]:
    parameters = []
    for name, required in struct_fields(kind):
        field = _without_null(field_type(kind, name))
        parameter: dict[str, Any] = {"name": name, "in": "query", "required": required,
                                     "schema": schemas.of(field)}
        if typing.get_origin(field) is list:
            parameter.update(style="form", explode=True)
        parameters.append(parameter)
    return parameters


def _is_response(kind: Any) -> bool:
    return isinstance(kind, type) and issubclass(kind, Response) or typing.get_origin(kind) is tuple


def _success_body(facts: ViewFacts) -> Any:
    """The body's type: the return annotation, or for a Flask view returning a Response the
    shape it declares beside it, `-> Annotated[Response, RoomOut]`; None: any JSON."""
    returns = facts.returns
    if typing.get_origin(returns) is typing.Annotated and _is_response(typing.get_args(returns)[0]):
        shapes = [meta for meta in returns.__metadata__ if isinstance(meta, type) or typing.get_origin(meta)]
        return shapes[0] if shapes else None
    if returns is None or _is_response(returns):
        return None
    return returns


def _responses(statuses: list[int], facts: ViewFacts, schemas: Schemas) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    success = sorted(status for status in facts.statuses if 200 <= status < 300)
    keys = [str(status) for status in success]
    if facts.other_status:
        keys.append("2XX")
    if not keys:
        keys = ["200"]
    body = _success_body(facts)
    for key in keys:
        if key == "204":
            responses[key] = {"description": "Done; no content."}
            continue
        responses[key] = {"description": "Success.",
                          "content": {"application/json": {"schema": schemas.of(body)}}}
    for status in statuses:
        responses[str(status)] = {"$ref": f"#/components/responses/Error{status}"}
    return responses


def _security(method: str, needs_login: bool) -> list[dict[str, list]]:
    if needs_login:
        return [{"session": [], "csrf": []}] if method in UNSAFE_METHODS else [{"session": []}]
    return [{"csrf": []}] if method in UNSAFE_METHODS else [{}]


def _operation(app: Flask, rule: Rule, method: str, schemas: Schemas) -> dict[str, Any]:
    view = app.view_functions[rule.endpoint]
    facts = view_facts(view)
    named = rule.endpoint.startswith(ENDPOINT_PREFIX)
    needs_login = (not getattr(view, "rpc_public", False)) if named else facts.login_required
    description = facts.description or ""
    operation: dict[str, Any] = {
        "operationId": rule.endpoint.removeprefix(ENDPOINT_PREFIX) + ("" if named else f".{method.lower()}"),
        "tags": ["named requests" if named else rule.endpoint.split(".", 1)[0]],
        "summary": description.split("\n", 1)[0],
    }
    if "\n" in description:
        operation["description"] = description
    parameters = _path_parameters(rule)
    if facts.query is not None:
        parameters += _query_parameters(facts.query, schemas)
    if parameters:
        operation["parameters"] = parameters
    if method in BODY_READING and (named or facts.body is not None):
        # A named request's payload may be left out (it is then null); a json_body one may not.
        operation["requestBody"] = {"required": not named and facts.body is not None,
                                    "content": {"application/json": {"schema": schemas.of(facts.body)}}}
    # A named request's body, and json_body's, must be JSON (payloads.require_json_type).
    json_only = named or facts.json_body
    statuses = _error_statuses(method, needs_login, bool(rule.arguments), json_only, facts)
    operation["responses"] = _responses(statuses, facts, schemas)
    operation["security"] = _security(method, needs_login)
    return operation


def json_rules(app: Flask) -> list[tuple[Rule, str]]:
    """(rule, method) of every JSON endpoint, in path order."""
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(API_PREFIX) or rule.endpoint.startswith(SELF_PREFIX):
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((rule, method))
    return sorted(found, key=lambda item: (_path(item[0]), item[1]))


def project_version(app: Flask) -> str:
    """The project's version (its pyproject.toml), the document's `info.version`."""
    try:
        return tomllib.loads(Path(app.root_path, "pyproject.toml").read_text())["project"]["version"]
    except (OSError, KeyError, TypeError, tomllib.TOMLDecodeError):
        return "0.0.0"


def openapi_document(app: Flask) -> dict[str, Any]:
    """The OpenAPI 3.1 document of `app`'s JSON endpoints and named requests."""
    schemas = Schemas()
    paths: dict[str, dict[str, Any]] = {}
    for rule, method in json_rules(app):
        paths.setdefault(_path(rule), {})[method.lower()] = _operation(app, rule, method, schemas)
    components = schemas.finish()
    components["ErrorBody"] = ERROR_BODY
    responses = {}
    for status, description in ERRORS.items():
        responses[f"Error{status}"] = {"description": description, "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}
    responses["Error429"]["headers"] = {"Retry-After": {"description": "seconds to wait",
                                                        "schema": {"type": "integer", "minimum": 1}}}
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": str(app.config.get("APP_NAME", "API")), "version": project_version(app),
                 "description": "The JSON endpoints (/ws/...) and named requests (POST /ws/<name>, also the "
                                "Socket.IO `rpc` event). A POST, PUT, PATCH or DELETE carries the CSRF token "
                                "from GET /ws/csrf as X-CSRFToken."},
        "paths": paths,
        "components": {
            "schemas": components,
            "responses": responses,
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie",
                            "name": str(app.config.get("SESSION_COOKIE_NAME", "session")),
                            "description": "The session cookie set by POST /ws/login or /ws/signup."},
                "csrf": {"type": "apiKey", "in": "header", "name": CSRF_HEADER,
                         "description": "The token of GET /ws/csrf (new after login)."},
            },
        },
    }


def undescribed(app: Flask) -> list[str]:
    """`METHOD /path (endpoint)` of each JSON endpoint whose view has no docstring."""
    return [f"{method} {rule.rule} ({rule.endpoint})" for rule, method in json_rules(app)
            if not view_facts(app.view_functions[rule.endpoint]).description]
