"""The extensions every app gets, each set up from Settings.

They live here, outside any app, so Controllers can import them
(`from app.extensions import socketio`) the usual Flask way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Flask, current_app
from flask_session import Session
from flask_socketio import SocketIO

from app.services import memcached_client, redis_client

if TYPE_CHECKING:
    from app.config import Settings

socketio = SocketIO()
server_session = Session()

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


def init_sessions(app: Flask, settings: Settings) -> None:
    """Server-side sessions in the store SERVER_ENV.SESSION names (msgpack encoded)."""
    backend = settings.server.SESSION
    app.config["SESSION_SERIALIZATION_FORMAT"] = "msgpack"
    app.config["SESSION_KEY_PREFIX"] = f"{settings.server.APP_NAME}:session:"
    if backend == "redis":
        app.config.update(SESSION_TYPE="redis", SESSION_REDIS=service_clients(app)["redis"])
    elif backend == "memcached":
        app.config.update(SESSION_TYPE="memcached", SESSION_MEMCACHED=service_clients(app)["memcached"])
    else:
        from cachelib import FileSystemCache

        directory = settings.path(settings.filesystem.PATH)
        directory.mkdir(parents=True, exist_ok=True)
        app.config.update(SESSION_TYPE="cachelib",
                          SESSION_CACHELIB=FileSystemCache(str(directory), threshold=0, mode=0o600))
    server_session.init_app(app)


def init_socketio(app: Flask, settings: Settings) -> None:
    """Socket.IO in-process; gevent inside gunicorn's gevent worker, threads elsewhere."""
    socketio.init_app(
        app,
        async_mode="gevent" if gevent_patched() else "threading",
        max_http_buffer_size=app.config.get("MAX_CONTENT_LENGTH") or 1_000_000,
        logger=False,
        engineio_logger=False,
    )
