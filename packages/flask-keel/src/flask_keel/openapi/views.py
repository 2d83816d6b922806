"""What a view's own code says about its HTTP contract, read from its source and
annotations: the structs it decodes (`json_body(X)`, `query_args(X)`,
`request.parse(X)`), the decorators it wears (`login_required`, a rate limit),
the statuses it returns (`return body, 201`) and its return annotation.

Nothing is registered twice: the document follows the code a view already has.
A struct only a helper decodes, deeper than the view and the module functions it
calls, is not seen; the operation then documents any JSON body.
"""

from __future__ import annotations

import ast
import inspect
import sysconfig
import textwrap
import typing
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from flask import abort
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import abort as werkzeug_abort

from flask_keel.auth import limits

DECODERS = {"json_body": "body", "query_args": "query", "parse": "body"}
# How many calls deep, through the project's own functions, the errors a view answers are looked for.
CALL_DEPTH = 4


@dataclass
class ViewFacts:
    body: type | None = None          # the struct the body is decoded into
    query: type | None = None         # the struct the query string is read into
    login_required: bool = False
    rate_limited: bool = False
    statuses: set[int] = field(default_factory=set)   # literal `return ..., 201`
    other_status: bool = False        # a status that is not a literal (`return body, status`)
    errors: set[int] = field(default_factory=set)     # HTTPExceptions it or what it calls makes, abort(N)s
    json_body: bool = False           # decodes with json_body (a body of another type: 415)
    returns: Any = None               # the return annotation, resolved (None: not given)
    description: str | None = None


@cache
def _function_node(func: Any) -> ast.FunctionDef | None:
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    except (OSError, TypeError, SyntaxError):
        return None  # no source, or not a def (a compiled view, a lambda): nothing is inferred
    node = tree.body[0] if tree.body else None
    return node if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) else None


def resolve(node: ast.AST, namespace: dict[str, Any]) -> Any:
    """A Name or dotted Attribute, looked up in the view's module; None if it is anything else."""
    if isinstance(node, ast.Name):
        return namespace.get(node.id)
    if isinstance(node, ast.Attribute):
        owner = resolve(node.value, namespace)
        if owner is None:
            return None
        try:
            return getattr(owner, node.attr, None)
        except Exception:  # noqa: BLE001 - a proxy outside its context (flask.request, cache): not a type
            return None
    return None


def _decorator_kinds(node: ast.FunctionDef, namespace: dict[str, Any]) -> tuple[bool, bool]:
    from flask_login import login_required

    needs_login = limited = False
    for decorator in node.decorator_list:
        target = resolve(decorator, namespace)
        if target is login_required:
            needs_login = True
        elif getattr(target, "__qualname__", "").startswith("rate_limit."):
            limited = True
    return needs_login, limited


def _status_of(node: ast.Return) -> tuple[int | None, bool]:
    """(literal status, whether a non-literal one is returned) of `return body, status`."""
    value = node.value
    if isinstance(value, ast.Tuple) and len(value.elts) >= 2:
        status = value.elts[1]
        if isinstance(status, ast.Constant) and isinstance(status.value, int):
            return status.value, False
        return None, True
    return None, False


def _errors_made(node: ast.AST, namespace: dict[str, Any]) -> set[int]:
    """Statuses of the HTTPExceptions a function makes, the `abort(N)`s and rate limits it calls."""
    found = set()
    for child in ast.walk(node):
        if not isinstance(child, ast.Call):
            continue
        callee = resolve(child.func, namespace)
        if isinstance(callee, type) and issubclass(callee, HTTPException) and callee.code:
            found.add(callee.code)
        elif callee in (abort, werkzeug_abort) and child.args and isinstance(child.args[0], ast.Constant):
            found.add(child.args[0].value)
        elif callee is not None and callee is getattr(limits, "count_attempt", None):
            found.add(429)
    return found


_FRAMEWORK_DIR = str(Path(__file__).resolve().parent.parent)
_LIBRARY_DIRS = tuple({sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")})


def _is_project_function(func: Any) -> bool:
    """A plain function of the project (Controllers, Models): not flask_keel's, a library's or Python's."""
    if not inspect.isfunction(func):
        return False
    try:
        path = str(Path(inspect.getsourcefile(func) or "").resolve())
    except (OSError, TypeError):
        return False
    return bool(path) and not path.startswith((_FRAMEWORK_DIR, *_LIBRARY_DIRS))


# Functions whose errors are being gathered: a recursive call among them is not followed again.
_GATHERING: set[Any] = set()


@cache
def _errors_of_function(func: Any, depth: int) -> frozenset[int]:
    node = _function_node(func)
    return frozenset(_errors_of_calls(node, func.__globals__, depth)) if node is not None else frozenset()


def _errors_of_calls(node: ast.AST, namespace: dict[str, Any], depth: int) -> set[int]:
    """The errors of `node` and of the project functions it calls, `depth` calls deep
    (a view calls service.enroll, which raises Forbidden: the view answers 403)."""
    found = _errors_made(node, namespace)
    if depth <= 0:
        return found
    for child in ast.walk(node):
        if not isinstance(child, ast.Call):
            continue
        callee = resolve(child.func, namespace)
        if not _is_project_function(callee) or callee in _GATHERING:
            continue
        _GATHERING.add(callee)
        try:
            found |= _errors_of_function(callee, depth - 1)
        finally:
            _GATHERING.discard(callee)
    return found


def _scan(node: ast.FunctionDef, namespace: dict[str, Any], facts: ViewFacts, depth: int) -> None:
    for child in ast.walk(node):
        if isinstance(child, ast.Return) and child.value is not None:
            status, other = _status_of(child)
            if status is not None:
                facts.statuses.add(status)
            facts.other_status |= other
        if not isinstance(child, ast.Call):
            continue
        name = child.func.attr if isinstance(child.func, ast.Attribute) else getattr(child.func, "id", None)
        if name == "parse" and not isinstance(child.func, ast.Attribute):
            name = None  # a function named parse; only `request.parse(X)` decodes a payload
        if name in DECODERS and child.args:
            kind = resolve(child.args[0], namespace)
            if isinstance(kind, type):
                setattr(facts, DECODERS[name], getattr(facts, DECODERS[name]) or kind)
                facts.json_body |= name == "json_body"
        elif depth and isinstance(child.func, ast.Name):
            # A module function the view calls (`return _created(id)`): its statuses are the view's.
            helper = namespace.get(child.func.id)
            if inspect.isfunction(helper) and helper.__module__ == namespace.get("__name__"):
                helper_node = _function_node(helper)
                if helper_node is not None:
                    helper_facts = ViewFacts()
                    _scan(helper_node, helper.__globals__, helper_facts, depth - 1)
                    facts.statuses |= helper_facts.statuses
                    facts.other_status |= helper_facts.other_status
                    facts.body = facts.body or helper_facts.body
                    facts.query = facts.query or helper_facts.query
                    facts.json_body |= helper_facts.json_body


def _return_annotation(func: Any) -> Any:
    try:
        return typing.get_type_hints(func, include_extras=True).get("return")
    except Exception:  # noqa: BLE001 - an annotation that does not resolve documents nothing
        return None


@cache
def view_facts(view: Any) -> ViewFacts:
    """What `view` (a Flask view or a named request's view, decorated or not) declares."""
    func = inspect.unwrap(view)
    facts = ViewFacts(description=inspect.getdoc(view) or inspect.getdoc(func))
    node = _function_node(func)
    if node is not None:
        namespace = getattr(func, "__globals__", {})
        facts.login_required, facts.rate_limited = _decorator_kinds(node, namespace)
        _scan(node, namespace, facts, depth=1)
        facts.errors = _errors_of_calls(node, namespace, CALL_DEPTH)
    facts.returns = _return_annotation(func)
    return facts
