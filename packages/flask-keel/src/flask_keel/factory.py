"""create_app: the application factory, one readable step per concern."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from functools import cached_property
from inspect import CO_COROUTINE
from types import FunctionType
from typing import Any

from flask import Flask, has_request_context, request
from flask.globals import request_ctx

from flask_keel import extensions
from flask_keel.access_log import register_access_log
from flask_keel.auth import init_auth
from flask_keel.cache import CACHE_KEY, build_cache
from flask_keel.config import Settings, load_settings
from flask_keel.db import db
from flask_keel.db.errors import register_database_error_handlers
from flask_keel.db.extension import init_databases
from flask_keel.devkey import dev_app_key
from flask_keel.errors import register_default_error_handlers
from flask_keel.health import health
from flask_keel.json_provider import MsgspecJSONProvider
from flask_keel.logs import configure_logging
from flask_keel.mail import init_mail
from flask_keel.metrics import register_metrics
from flask_keel.openapi.serve import register_api_docs
from flask_keel.realtime import init_realtime, socketio_of, socketio_prefix
from flask_keel.request_id import RequestGlobals
from flask_keel.request_limits import DEFAULT_BODY_TIMEOUT, DEFAULT_MAX_CONTENT_LENGTH, register_request_limits
from flask_keel.routing import register_url_converters
from flask_keel.security import register_security, trust_proxies
from flask_keel.server_modules import load_server_modules
from flask_keel.sessions import init_sessions
from flask_keel.ui import init_ui

# Cookie defaults a user would otherwise have to remember; FLASK.CONFIG overrides them.
FLASK_DEFAULTS = {
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    # Every request's body: small unless a view says otherwise (@body_limit), and in time.
    "MAX_CONTENT_LENGTH": DEFAULT_MAX_CONTENT_LENGTH,
    "REQUEST_BODY_TIMEOUT": DEFAULT_BODY_TIMEOUT,
}


class App(Flask):
    """Flask with JSON encoded by msgspec, and `g.request_id` always set."""

    json_provider_class = MsgspecJSONProvider
    app_ctx_globals_class = RequestGlobals

    # URLs a request has built, by everything a relative URL depends on. Pages build
    # the same few on every request (the layout's links, the stylesheet), each ~2.5 µs
    # through werkzeug's builder; a dict lookup here. Bounded; cleared when full.
    URL_CACHE_SIZE = 4096

    def url_for(self, endpoint: str, /, *, _anchor: str | None = None, _method: str | None = None,
                _scheme: str | None = None, _external: bool | None = None, **values: Any) -> str:
        # Flask's public accessors of the request context (flask.globals.request_ctx is the one
        # Flask's deprecation of _request_ctx_stack points to), not its private context variable.
        if (_anchor is not None or _method is not None or _scheme is not None or _external
                or self.url_default_functions  # url_defaults may add values from anywhere: not cached
                or not has_request_context()):
            return super().url_for(endpoint, _anchor=_anchor, _method=_method, _scheme=_scheme,
                                   _external=_external, **values)
        adapter = request_ctx.url_adapter
        blueprint = request.blueprint if endpoint[:1] == "." else None
        try:
            key = (endpoint, blueprint, adapter.script_name, adapter.server_name, adapter.subdomain,
                   adapter.url_scheme, *sorted(values.items()))
            url = self._built_urls.get(key)
        except TypeError:  # a value that cannot be a key (a list for a repeated argument)
            return super().url_for(endpoint, **values)
        if url is None:
            url = super().url_for(endpoint, **values)
            if len(self._built_urls) >= self.URL_CACHE_SIZE:
                self._built_urls.clear()
            self._built_urls[key] = url
        return url

    @cached_property
    def _built_urls(self) -> dict[tuple, str]:
        return {}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        # Flask asks inspect whether each hook and view is a coroutine function, on
        # every request; a plain function's code flags answer that at once.
        if type(func) is FunctionType and not func.__code__.co_flags & CO_COROUTINE:
            return func
        return super().ensure_sync(func)


def create_app(config_path: str | os.PathLike[str] | None = None) -> Flask:
    """Build the app from a config file (default: APP_CONFIG, else config/config.yml)."""
    settings = load_settings(config_path)
    # Handlers go up first so the steps below, and the user's modules, can log.
    configure_logging(settings)
    add_project_to_path(settings)
    app = App(
        "app",
        root_path=str(settings.root),
        static_folder=str(settings.path(settings.server.STATIC_PATH)),
        template_folder=str(settings.path(settings.server.TEMPLATE_PATH)),
        instance_path=str(settings.instance_path),
    )
    register_settings(app, settings)
    register_url_converters(app)
    register_extensions(app, settings)
    register_server_modules(app)
    register_api_docs(app, settings.is_production)
    register_error_handlers(app)
    # WSGI wrappers, innermost first: ProxyFix ends up outermost, so the access
    # line and the HSTS decision see the client's address and scheme.
    register_request_limits(app)
    register_security_headers(app)
    register_app_metrics(app, settings)
    register_logging(app)
    register_proxies(app, settings)
    return app


def register_settings(app: Flask, settings: Settings) -> None:
    """Flask settings: defaults, then FLASK.CONFIG, then SECRET_KEY from APP_KEY."""
    app.extensions[extensions.SETTINGS_KEY] = settings
    app.config.update(FLASK_DEFAULTS)
    app.config["SESSION_COOKIE_SECURE"] = settings.is_production
    app.config["APP_NAME"] = settings.server.APP_NAME
    app.config["APP_ENV"] = settings.server.ENV
    app.config["DEBUG"] = settings.server.DEBUG
    app.config.update(settings.flask_config)
    if settings.server.APP_KEY:
        app.config["SECRET_KEY"] = settings.server.APP_KEY
    elif not app.config.get("SECRET_KEY"):
        # The loader has already refused this case when ENV is PROD.
        app.config["SECRET_KEY"] = dev_app_key(settings.instance_path)
        app.logger.warning("APP_KEY is not set: using the development key in %s", settings.instance_path)


def register_extensions(app: Flask, settings: Settings) -> None:
    init_databases(app, settings)
    extensions.init_service_clients(app, settings)
    init_sessions(app, settings, extensions.service_clients(app))
    app.extensions[CACHE_KEY] = build_cache(settings, extensions.service_clients(app))
    init_auth(app, settings)
    init_realtime(app, settings)
    init_mail(app, settings)
    app.register_blueprint(health)
    init_ui(app)


def add_project_to_path(settings: Settings) -> None:
    """Server, Controllers and Models are imported from the project root."""
    root = str(settings.root)
    if root not in sys.path:
        sys.path.insert(0, root)


def register_server_modules(app: Flask) -> None:
    load_server_modules(app, socketio_of(app))


def register_security_headers(app: Flask) -> None:
    register_security(app)


def register_proxies(app: Flask, settings: Settings) -> None:
    trust_proxies(app, settings.server.TRUSTED_PROXIES, settings.server.proxy_networks)


def register_error_handlers(app: Flask) -> None:
    register_database_error_handlers(app)
    register_default_error_handlers(app)


def register_app_metrics(app: Flask, settings: Settings) -> None:
    eio = socketio_of(app).server.eio
    register_metrics(app, settings, long_lived_prefix=socketio_prefix(app), eio=eio,
                     engines=lambda: db.engines_by_name(app))


def register_logging(app: Flask) -> None:
    register_access_log(app, long_lived_prefix=socketio_prefix(app))
