"""Socket.IO for the app: one login for HTTP and sockets, a room per user, pushes
from anywhere.

- The Flask-Session session is the socket's session (manage_session=False):
  logging in over HTTP logs the socket in.
- `authorize_connection(auth)` (called from Controllers/Socket) refuses a
  connection without a logged-in user or without the session's CSRF token in
  `auth`, and puts the socket in the user's room and in its login's room.
- A socket lives no longer than its login: its login is checked when it connects,
  and whatever ends the login (logout, a login over it, flask_keel.auth's
  end_user_logins, the session's expiry) disconnects it, in every process. A
  session removed from the store behind the app's back is noticed within
  SOCKET_SESSION_RECHECK seconds; a connection that joins no namespace is closed
  (see connections.py).
- Each connection has a message-rate and byte budget, and a message nested past
  flask_keel.payloads.MAX_DEPTH is refused before it is decoded (budget.py); one user
  holds at most SOCKETS_PER_USER signed-in sockets per process (FLASK.CONFIG, default 32).
- `notify(user_or_room, event, data)` pushes from a request, a socket handler,
  a CLI command; `emitter(settings).notify(...)` from any other process. Across
  processes it needs SERVICES.redis, which is then the message queue: an event
  emitted on one instance reaches clients connected to another.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app

# Flask-SocketIO's ConnectionRefusedError (not the builtin OSError) carries its reason to the client.
from flask_socketio import ConnectionRefusedError, SocketIO, join_room

from flask_keel.extensions import gevent_patched
from flask_keel.realtime.budget import DEFAULT_BYTES_PER_SECOND, DEFAULT_MESSAGES_PER_SECOND, PacedSocket, set_budget
from flask_keel.realtime.connections import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_SESSION_RECHECK,
    ConnectDeadline,
    GuardedSocketIO,
    Sweeper,
    end_login_sockets,
    remember_socket_login,
    session_room,
)
from flask_keel.realtime.managers import LocalManager, RedisManager
from flask_keel.realtime.upgrade import install as install_upgrade_safe_sockets
from flask_keel.rpc.encoding import to_builtins
from flask_keel.rpc.socket import handle_rpc
from flask_keel.services import redis_url

if TYPE_CHECKING:
    from flask_keel.config import Settings

log = logging.getLogger(__name__)

# The SocketIOPaths dispatcher of the app, whose prefix the access log needs too.
PATHS_KEY = "app.socketio_paths"

DEFAULT_MAX_MESSAGE = 1024 * 1024
DEFAULT_SOCKETS_PER_USER = 32


def channel(settings: Settings) -> str:
    return f"{settings.key_namespace}:socketio"


def user_room(user_or_id: Any) -> str:
    user_id = getattr(user_or_id, "id", user_or_id)
    return f"user:{user_id}"


def room_of(user_or_room: Any) -> str:
    """A room name as given (str), else the room of a user or user id."""
    return user_or_room if isinstance(user_or_room, str) else user_room(user_or_room)


def socketio_prefix(app: Flask) -> str:
    """The path prefix Socket.IO is served under ("/socket.io/")."""
    return app.extensions[PATHS_KEY].prefix


def socketio_of(app: Flask | None = None) -> SocketIO:
    """The app's Socket.IO server (one per app: Flask-SocketIO keeps state per instance)."""
    return (app or current_app).extensions["socketio"]


def init_realtime(app: Flask, settings: Settings) -> SocketIO:
    queue = redis_url(settings)
    app.config.setdefault("SOCKETIO_MAX_MESSAGE_SIZE", DEFAULT_MAX_MESSAGE)
    app.config.setdefault("SOCKETIO_CONNECT_TIMEOUT", DEFAULT_CONNECT_TIMEOUT)
    app.config.setdefault("SOCKET_SESSION_RECHECK", DEFAULT_SESSION_RECHECK)
    app.config.setdefault("SOCKET_MESSAGES_PER_SECOND", DEFAULT_MESSAGES_PER_SECOND)
    app.config.setdefault("SOCKET_BYTES_PER_SECOND", DEFAULT_BYTES_PER_SECOND)
    app.config.setdefault("SOCKETS_PER_USER", DEFAULT_SOCKETS_PER_USER)
    # Websockets only, unless long-polling is asked for: each websocket lives on
    # one process, so any number of workers and replicas serve it unsticky.
    transports = ["polling", "websocket"] if settings.server.SOCKETIO_POLLING else ["websocket"]
    app.config["SOCKETIO_TRANSPORTS"] = transports
    socketio = GuardedSocketIO()
    socketio.init_app(
        app,
        async_mode="gevent" if gevent_patched() else "threading",
        transports=transports,
        # Use the Flask-Session session itself, not a copy taken at connect time.
        manage_session=False,
        client_manager=RedisManager(queue, channel=channel(settings)) if queue else LocalManager(),
        max_http_buffer_size=app.config["SOCKETIO_MAX_MESSAGE_SIZE"],
        logger=False,
        engineio_logger=False,
    )
    socketio.session_recheck = float(app.config["SOCKET_SESSION_RECHECK"])
    socketio.sweeper = Sweeper(socketio.server)  # session expiries and connect deadlines
    if app.config["SOCKETIO_CONNECT_TIMEOUT"]:
        ConnectDeadline(socketio, socketio.sweeper, float(app.config["SOCKETIO_CONNECT_TIMEOUT"]))
    # Logging out (or in again over a login) ends that login's sockets, and
    # end_user_logins every socket of a user: auth sends the signals, realtime acts on
    # them (auth never imports realtime). Imported here, as auth is below, so that
    # importing realtime alone (an Emitter) stays light.
    from flask_keel.auth import login_ended, user_logins_ended

    login_ended.connect(_end_sockets_of_login)
    user_logins_ended.connect(_end_sockets_of_user)
    socketio.on_event("rpc", handle_rpc)
    app.wsgi_app = app.extensions[PATHS_KEY] = SocketIOPaths(app.wsgi_app)  # type: ignore[method-assign]
    # python-engineio hangs on a failed or interrupted polling-to-websocket upgrade (see upgrade.py).
    install_upgrade_safe_sockets(socketio, socketio_prefix(app), PacedSocket)
    set_budget(socketio.server.eio, float(app.config["SOCKET_MESSAGES_PER_SECOND"] or 0),
               float(app.config["SOCKET_BYTES_PER_SECOND"] or 0), int(app.config["SOCKETIO_MAX_MESSAGE_SIZE"]))
    if queue:
        log.debug("Socket.IO message queue on Redis (channel %s)", channel(settings))
    return socketio


def _end_sockets_of_login(app: Flask, session_id: str | None = None, **_: Any) -> None:
    """flask_keel.auth.login_ended's receiver: disconnect that login's sockets, in every process."""
    if "socketio" in app.extensions:
        end_login_sockets(session_id, app)


def _end_sockets_of_user(app: Flask, user_id: Any = None, **_: Any) -> None:
    """flask_keel.auth.user_logins_ended's receiver: disconnect the user's sockets, in every process."""
    if "socketio" in app.extensions and user_id is not None:
        socketio_of(app).server.manager.disconnect_room(user_room(user_id), namespace="/")


class SocketIOPaths:
    """Sends only /socket.io/ requests through Flask-SocketIO's WSGI middleware.

    That middleware copies the environ and defines a class on every request it
    sees; for the ordinary routes, which it would pass on untouched, the Flask
    app is called directly.
    """

    def __init__(self, socketio_middleware: Any) -> None:
        self.socketio_middleware = socketio_middleware
        self.flask_wsgi_app = socketio_middleware.wsgi_app
        self.prefix = socketio_middleware.engineio_path

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO", "").startswith(self.prefix):
            return self.socketio_middleware(environ, start_response)
        return self.flask_wsgi_app(environ, start_response)


def authorize_connection(auth: Any):
    """The connecting user, after checking login and CSRF; raises ConnectionRefusedError."""
    from flask import session
    from flask_wtf.csrf import ValidationError, validate_csrf

    from flask_keel.auth import USERNAME_KEY, current_user

    if not current_user.is_authenticated:
        raise ConnectionRefusedError("not logged in")
    token = auth.get("csrf_token") if isinstance(auth, dict) else None
    try:
        validate_csrf(token)
    except ValidationError as exc:
        raise ConnectionRefusedError(f"bad CSRF token: {exc}") from None
    limit = int(current_app.config.get("SOCKETS_PER_USER") or 0)
    if limit and _sockets_held(current_user) >= limit:
        raise ConnectionRefusedError(f"too many sockets open for this user (at most {limit}); close one first")
    join_room(user_room(current_user))
    join_room(session_room(session.sid))
    # The session is read this once: later events are served from what the socket remembers.
    username = session.get(USERNAME_KEY)
    remember_socket_login(current_user.get_id(), username if isinstance(username, str) else None,
                          session._get_current_object())
    return current_user._get_current_object()


def _sockets_held(user: Any) -> int:
    """How many signed-in sockets the user has in this process (their room's members)."""
    rooms = socketio_of().server.manager.rooms.get("/", {})
    return len(rooms.get(user_room(user), ()))


def notify(user_or_room: Any, event: str, data: Any = None) -> None:
    """Push `event` to a user (a user object or id) or a room name (str)."""
    socketio_of().emit(event, to_builtins(data), to=room_of(user_or_room), namespace="/")


def broadcast(event: str, data: Any = None) -> None:
    socketio_of().emit(event, to_builtins(data), namespace="/")


class Emitter:
    """Pushes from a process that serves no clients (a worker, a cron job)."""

    def __init__(self, url: str, channel_name: str):
        self.manager = RedisManager(url, channel=channel_name, write_only=True)

    def notify(self, user_or_room: Any, event: str, data: Any = None) -> None:
        self.manager.emit(event, to_builtins(data), room=room_of(user_or_room), namespace="/")

    def broadcast(self, event: str, data: Any = None) -> None:
        self.manager.emit(event, to_builtins(data), namespace="/")


def emitter(settings: Settings) -> Emitter:
    url = redis_url(settings)
    if url is None:
        raise RuntimeError("pushing from another process needs SERVICES.redis (the Socket.IO message queue)")
    return Emitter(url, channel(settings))


__all__ = ["Emitter", "authorize_connection", "broadcast", "emitter", "notify", "socketio_of", "user_room"]
