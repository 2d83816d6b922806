"""Per-app state shared by the framework: settings and service clients."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Flask, current_app

from flask_keel.services import memcached_client, redis_client

if TYPE_CHECKING:
    from flask_keel.config import Settings

SETTINGS_KEY = "app.settings"
CLIENTS_KEY = "app.clients"


def current_settings() -> Settings:
    return current_app.extensions[SETTINGS_KEY]


def service_clients(app: Flask | None = None) -> dict[str, Any]:
    """The live clients of configured services, by name ("redis", "memcached")."""
    return (app or current_app).extensions[CLIENTS_KEY]


def gevent_patched() -> bool:
    """True inside gunicorn's gevent worker (it monkey-patches before loading the app)."""
    try:
        from gevent import monkey
    except ImportError:
        return False
    return monkey.is_module_patched("socket")


def init_service_clients(app: Flask, settings: Settings) -> None:
    clients = {"redis": redis_client(settings), "memcached": memcached_client(settings)}
    app.extensions[CLIENTS_KEY] = {name: client for name, client in clients.items() if client is not None}
