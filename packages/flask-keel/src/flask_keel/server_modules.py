"""Loads the user's `Server` package: the seed's five optional modules.

    Server.Middleware.Load(app)     before_request hooks, WSGI wrappers
    Server.Web.Route(app)           pages for people
    Server.WS.Route(app)            JSON web services
    Server.ErrorHandler.Route(app)  error pages
    Server.Socket.Handler(socketio) Socket.IO events

A module that does not exist is skipped with a debug line. Anything a module
raises, including an ImportError from inside it, stops startup with the user's
own traceback.
"""

from __future__ import annotations

import importlib
import logging
from types import ModuleType
from typing import Any

log = logging.getLogger(__name__)

PACKAGE = "Server"
# (module, callable, what it receives), in the order they are applied.
MODULES = (
    ("Middleware", "Load", "app"),
    ("Web", "Route", "app"),
    ("WS", "Route", "app"),
    ("ErrorHandler", "Route", "app"),
    ("Socket", "Handler", "socketio"),
)


class ServerModuleError(Exception):
    """A Server module exists but lacks the callable the loader needs."""


def _import_optional(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        # Only the module itself being absent means "skip"; a missing import
        # inside it is the user's bug and must surface.
        if exc.name is not None and (exc.name == name or name.startswith(exc.name + ".")):
            return None
        raise


def load_server_modules(app: Any, socketio: Any, package: str = PACKAGE) -> list[str]:
    """Apply every present Server module; return the names that were loaded."""
    if _import_optional(package) is None:
        log.debug("no %s package found; no user routes loaded", package)
        return []
    targets = {"app": app, "socketio": socketio}
    loaded = []
    for module_name, attribute, target in MODULES:
        qualified = f"{package}.{module_name}"
        module = _import_optional(qualified)
        if module is None:
            log.debug("%s not found; skipped", qualified)
            continue
        entry = getattr(module, attribute, None)
        if not callable(entry):
            raise ServerModuleError(f"{qualified} must define {attribute}({target}), as in "
                                    f"`class {attribute}: def __init__(self, {target}): ...`")
        entry(targets[target])
        loaded.append(module_name)
        log.debug("%s.%s applied", qualified, attribute)
    return loaded
