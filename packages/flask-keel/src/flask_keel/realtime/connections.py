"""Which sockets may stay: a login's sockets end with it, and a connection that never
joins a namespace is closed.

- Each authorized socket joins the room of its login (a hash of the session id).
  Logging out, or logging in again over it, disconnects that room in every
  process (flask_keel.realtime.managers), so no push for the user reaches a socket of
  a session that is gone.
- Every event handler first checks that the session still belongs to the user
  the socket was authorized for (the session may have expired or been deleted
  from the store); if not, the socket is answered `not_logged_in` and closed.
- An Engine.IO connection has SOCKETIO_CONNECT_TIMEOUT seconds (FLASK.CONFIG,
  default 10) to join a namespace, which needs a login. Idle connections that
  answer pings but never connect (or were refused) would otherwise be held
  until the client leaves.
"""

from __future__ import annotations

import hashlib
import logging
import socket
import time
from typing import Any

from flask import Flask, current_app, request
from flask_socketio import SocketIO

log = logging.getLogger(__name__)

DEFAULT_CONNECT_TIMEOUT = 10.0
SOCKET_USER_KEY = "app.socket_user_id"  # kept in the connection's WSGI environ
SWEEP_SECONDS = 1.0
# After a websocket is told to close, the time its client has to close it too; then
# the TCP connection is shut. A client ignoring the close frame would otherwise
# hold it until the read timeout (ping interval + ping timeout, 45 s).
CLOSE_GRACE_SECONDS = 1.0


def session_room(session_id: str) -> str:
    """The room of one login's sockets; hashed, so the session id never travels as a room name."""
    return "login:" + hashlib.sha256(session_id.encode()).hexdigest()[:32]


def end_login_sockets(session_id: str | None, app: Flask | None = None) -> None:
    """Disconnect every socket opened on this login, in every process."""
    if not session_id:
        return
    socketio = (app or current_app).extensions["socketio"]
    socketio.server.manager.disconnect_room(session_room(session_id), namespace="/")


def remember_socket_user(user_id: Any) -> None:
    """Called when a socket is authorized: the user every later event must still be."""
    request.environ[SOCKET_USER_KEY] = str(user_id)


class GuardedSocketIO(SocketIO):
    """Flask-SocketIO whose handlers never run for a socket whose login is gone."""

    def _handle_event(self, handler, message, namespace, sid, *args):
        if message in ("connect", "disconnect"):
            return super()._handle_event(handler, message, namespace, sid, *args)
        return super()._handle_event(_guarded(handler, self, sid, namespace), message, namespace, sid, *args)


def _guarded(handler, socketio: SocketIO, sid: str, namespace: str):
    def run(*args):
        from flask_keel.auth import current_user

        expected = request.environ.get(SOCKET_USER_KEY)
        actual = str(current_user.get_id()) if current_user.is_authenticated else None
        if expected is not None and actual != expected:
            log.info("socket %s: its login is gone; disconnected", sid)
            socketio.server.start_background_task(socketio.server.disconnect, sid, namespace=namespace)
            return {"ok": False, "status": 401, "error": "not_logged_in",
                    "message": "This login has ended; log in again."}
        return handler(*args)

    return run


class ConnectDeadline:
    """Closes Engine.IO connections that have not joined a namespace within `seconds`."""

    def __init__(self, socketio: SocketIO, seconds: float) -> None:
        self.server = socketio.server
        self.seconds = seconds
        self.pending: dict[str, float] = {}
        self.sweeping = False
        on_connect = self.server.eio.handlers["connect"]

        def connect(eio_sid: str, environ: dict[str, Any], *args: Any) -> Any:
            self.pending[eio_sid] = time.monotonic() + self.seconds
            if not self.sweeping:
                self.sweeping = True
                self.server.start_background_task(self._sweep)
            return on_connect(eio_sid, environ, *args)

        self.server.eio.on("connect", connect)

    def _joined(self, eio_sid: str) -> bool:
        manager = self.server.manager
        return any(manager.sid_from_eio_sid(eio_sid, namespace) for namespace in list(manager.get_namespaces()))

    def _sweep(self) -> None:
        while self.pending:
            self.server.sleep(SWEEP_SECONDS)
            now = time.monotonic()
            for eio_sid, deadline in list(self.pending.items()):
                if eio_sid not in self.server.environ or self._joined(eio_sid):
                    self.pending.pop(eio_sid, None)
                elif now >= deadline:
                    self.pending.pop(eio_sid, None)
                    log.debug("engine.io connection %s joined no namespace in %ss; closed", eio_sid, self.seconds)
                    raw = self.server.environ[eio_sid].get("gunicorn.socket")
                    socket_ = self.server.eio.sockets.get(eio_sid)
                    if socket_ is not None:  # without waiting: a client that left never takes the packet
                        socket_.close(wait=False, reason=self.server.eio.reason.SERVER_DISCONNECT)
                    if raw is not None:
                        self.server.start_background_task(_shut_after_grace, self.server, raw)
        self.sweeping = False


def _shut_after_grace(server: Any, raw: socket.socket) -> None:
    server.sleep(CLOSE_GRACE_SECONDS)
    try:
        raw.shutdown(socket.SHUT_RDWR)  # the handler's next read ends; gunicorn then closes it
    except OSError:
        pass  # closed meanwhile, as it should be
