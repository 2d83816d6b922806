"""Which sockets may stay: a socket's login is checked when it connects, and revoked
by message; a connection that never joins a namespace is closed.

- A socket's login is checked once, when it connects (authorize_connection reads
  the session). The socket then remembers its user, its session's room and when
  the session expires (SocketLogin); its events are served from that, without
  reading the session from the store. The store is read for an event only when
  the handler itself uses `session`, and once every SOCKET_SESSION_RECHECK
  seconds (FLASK.CONFIG, default 30), which notices a session removed behind the
  app's back (the store flushed).
- Everything that ends a login through the app ends its sockets at once, in every
  process (flask_keel.realtime.managers): each authorized socket joins the room of
  its login (a hash of the session id) and of its user. Logging out, or logging
  in again over a login, disconnects the login's room; flask_keel.auth's
  end_user_logins (a password change, "sign out everywhere", an account deleted)
  disconnects the user's room.
- A socket is closed when its session's lifetime runs out, whether it sends
  anything or not (the sweeper, below), and an event after that is answered
  `not_logged_in` and closes it, as is an event whose recheck finds the session gone.
- An Engine.IO connection has SOCKETIO_CONNECT_TIMEOUT seconds (FLASK.CONFIG,
  default 10) to join a namespace, which needs a login. Idle connections that
  answer pings but never connect (or were refused) would otherwise be held
  until the client leaves.

One sweeper per server does the timed closes (connect deadlines, session expiry):
a background task that wakes every second while anything is due, and takes only
what is due off a heap.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import logging
import socket
import sys
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, request
from flask.ctx import RequestContext
from flask_socketio import SocketIO

log = logging.getLogger(__name__)

DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_SESSION_RECHECK = 30.0
SOCKET_LOGIN_KEY = "app.socket_login"  # kept in the connection's WSGI environ
SWEEP_SECONDS = 1.0
# After a websocket is told to close, the time its client has to close it too; then
# the TCP connection is shut. A client ignoring the close frame would otherwise
# hold it until the read timeout (ping interval + ping timeout, 45 s).
CLOSE_GRACE_SECONDS = 1.0
NOT_LOGGED_IN = {"ok": False, "status": 401, "error": "not_logged_in", "message": "This login has ended; log in again."}


def session_room(session_id: str) -> str:
    """The room of one login's sockets; hashed, so the session id never travels as a room name."""
    return "login:" + hashlib.sha256(session_id.encode()).hexdigest()[:32]


def end_login_sockets(session_id: str | None, app: Flask | None = None) -> None:
    """Disconnect every socket opened on this login, in every process."""
    if not session_id:
        return
    socketio = (app or current_app).extensions["socketio"]
    socketio.server.manager.disconnect_room(session_room(session_id), namespace="/")


@dataclass
class SocketLogin:
    """What a socket knows of its login after the connect handler authorized it."""

    user_id: str
    username: str | None
    expires: float  # time.monotonic() when the session's lifetime runs out
    checked: float  # time.monotonic() of the last read of the session from the store

    def saw(self, session: Any) -> None:
        """The session was read or written: its expiry, as the session interface stamped it."""
        expires = _expiry_of(session)
        if expires is not None:
            self.expires = expires


def _expiry_of(session: Any) -> float | None:
    """The session's expiry as a time.monotonic() value, from its stamp (None: unstamped)."""
    from flask_keel.sessions.interface import expires_at

    at = expires_at(session)
    return None if at is None else time.monotonic() + (at - time.time())


def remember_socket_login(user_id: Any, username: str | None, session: Any) -> None:
    """Called when a socket is authorized: the login its events are served for, and its expiry."""
    now = time.monotonic()
    expires = _expiry_of(session)
    if expires is None:  # a session stored before expiries were stamped: at most one lifetime from now
        expires = now + current_app.permanent_session_lifetime.total_seconds()
    login = SocketLogin(str(user_id), username, expires, now)
    request.environ[SOCKET_LOGIN_KEY] = login
    socketio = current_app.extensions["socketio"]
    sweeper = getattr(socketio, "sweeper", None)
    eio_sid = socketio.server.manager.eio_sid_from_sid(request.sid, request.namespace)
    if sweeper is not None and eio_sid is not None:
        _schedule_expiry(socketio, sweeper, eio_sid, expires)


def _schedule_expiry(socketio: SocketIO, sweeper: Sweeper, eio_sid: str, expires: float) -> None:
    # In a task of its own: a slow close must not hold the sweeper up for every other socket.
    sweeper.schedule(("login", eio_sid), expires,
                     lambda: socketio.server.start_background_task(_expire_login, socketio, sweeper, eio_sid))


def _expire_login(socketio: SocketIO, sweeper: Sweeper, eio_sid: str) -> None:
    """The sweeper's action at a login's expiry: close the connection's sockets (no store read)."""
    server = socketio.server
    environ = server.environ.get(eio_sid)
    login = environ.get(SOCKET_LOGIN_KEY) if environ else None
    if login is None:
        return  # gone meanwhile
    if time.monotonic() < login.expires:  # the session was written since, and lives longer
        _schedule_expiry(socketio, sweeper, eio_sid, login.expires)
        return
    for namespace in list(server.manager.get_namespaces()):
        sid = server.manager.sid_from_eio_sid(eio_sid, namespace)
        if sid is not None:
            log.info("socket %s: its session expired; disconnected", sid)
            server.disconnect(sid, namespace=namespace, ignore_queue=True)


class _SocketEventContext(RequestContext):
    """A request context for a socket event whose session is read from the store only
    when something uses it (Flask opens it when the context is pushed)."""

    def push(self) -> None:
        if self._session is not None:
            super().push()
            return
        self._session = _UNOPENED  # type: ignore[assignment]
        try:
            super().push()
        finally:
            self._session = None

    @property
    def session(self):  # type: ignore[override]
        if self._session is None:
            interface = self.app.session_interface
            self._session = interface.open_session(self.app, self.request) or interface.make_null_session(self.app)
        return super().session

    @property
    def opened_session(self) -> Any:
        return self._session


_UNOPENED = object()


class GuardedSocketIO(SocketIO):
    """Flask-SocketIO whose handlers never run for a socket whose login has ended."""

    session_recheck = DEFAULT_SESSION_RECHECK
    sweeper: Sweeper | None = None

    def _handle_event(self, handler, message, namespace, sid, *args):
        if message in ("connect", "disconnect"):
            return super()._handle_event(handler, message, namespace, sid, *args)
        environ = self.server.get_environ(sid, namespace=namespace)
        login = environ.get(SOCKET_LOGIN_KEY) if environ else None
        if login is None:  # unknown, or let in by a connect handler that asked for no login
            return super()._handle_event(handler, message, namespace, sid, *args)
        return self._handle_login_event(login, environ, handler, message, namespace, sid, *args)

    def _handle_login_event(self, login: SocketLogin, environ, handler, message, namespace, sid, *args):
        """Flask-SocketIO's _handle_event (manage_session=False), with the login checked
        in memory and the session opened only if used."""
        from flask_keel.auth import set_request_user

        app = environ["flask.app"]
        with _SocketEventContext(app, environ) as context:
            request.sid = sid
            request.namespace = namespace
            request.event = {"message": message, "args": args}
            if not self._login_holds(login, context):
                log.info("socket %s: its login is gone; disconnected", sid)
                self.server.start_background_task(self.server.disconnect, sid, namespace=namespace)
                return dict(NOT_LOGGED_IN)
            set_request_user(login.user_id, login.username)
            try:
                answer = handler(*args)
            except Exception:
                err_handler = self.exception_handlers.get(namespace, self.default_exception_handler)
                if err_handler is None:
                    raise
                return err_handler(sys.exc_info()[1])
            session = context.opened_session
            if session is not None and getattr(session, "modified", True):
                app.session_interface.save_session(app, session, app.response_class())
                login.saw(session)
            return answer

    def _login_holds(self, login: SocketLogin, context: _SocketEventContext) -> bool:
        from flask_keel.sessions.interface import USER_KEY
        from flask_keel.sessions.outage import UnavailableSession

        now = time.monotonic()
        if now >= login.expires:
            return False
        if now - login.checked < self.session_recheck:
            return True
        session = context.session  # the one store read of this event, which the handler uses too
        if isinstance(session, UnavailableSession):
            return True  # the store is down, not the login: checked again on the next event
        login.checked = now
        if str(dict.get(session, USER_KEY)) != login.user_id:
            return False
        login.saw(session)
        return True


class Sweeper:
    """Runs actions when they are due, from one background task of the server that wakes
    every SWEEP_SECONDS while anything is scheduled. An action is keyed: scheduling a key
    again replaces its action, and a key can be cancelled (a connection that left)."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.entries: dict[Hashable, tuple[int, Callable[[], None]]] = {}
        self.heap: list[tuple[float, int, Hashable]] = []
        self.order = itertools.count()
        self.lock = threading.Lock()
        self.sweeping = False
        on_disconnect = server.eio.handlers["disconnect"]

        def disconnect(eio_sid: str, *args: Any) -> Any:
            self.cancel(("connect", eio_sid))
            self.cancel(("login", eio_sid))
            return on_disconnect(eio_sid, *args)

        server.eio.on("disconnect", disconnect)

    def schedule(self, key: Hashable, due: float, action: Callable[[], None]) -> None:
        """Run `action` at time.monotonic() `due` (within SWEEP_SECONDS after it)."""
        with self.lock:
            number = next(self.order)
            self.entries[key] = (number, action)
            heapq.heappush(self.heap, (due, number, key))
            start = not self.sweeping
            self.sweeping = True
        if start:
            self.server.start_background_task(self._sweep)

    def cancel(self, key: Hashable) -> None:
        with self.lock:
            if self.entries.pop(key, None) is not None and len(self.heap) > 2 * len(self.entries) + 64:
                # Cancelled entries stay in the heap until due: dropped here once they are most of it.
                self.heap = [entry for entry in self.heap if self.entries.get(entry[2], (None,))[0] == entry[1]]
                heapq.heapify(self.heap)

    def _due(self, now: float) -> list[Callable[[], None]]:
        actions = []
        with self.lock:
            while self.heap and self.heap[0][0] <= now:
                _, number, key = heapq.heappop(self.heap)
                entry = self.entries.get(key)
                if entry is not None and entry[0] == number:
                    del self.entries[key]
                    actions.append(entry[1])
        return actions

    def _sweep(self) -> None:
        while True:
            with self.lock:
                if not self.entries:
                    self.heap.clear()
                    self.sweeping = False
                    return
            self.server.sleep(SWEEP_SECONDS)
            for action in self._due(time.monotonic()):
                try:
                    action()
                except Exception:
                    log.exception("a timed socket close failed")


class ConnectDeadline:
    """Closes Engine.IO connections that have not joined a namespace within `seconds`."""

    def __init__(self, socketio: SocketIO, sweeper: Sweeper, seconds: float) -> None:
        self.server = socketio.server
        self.sweeper = sweeper
        self.seconds = seconds
        on_connect = self.server.eio.handlers["connect"]

        def connect(eio_sid: str, environ: dict[str, Any], *args: Any) -> Any:
            sweeper.schedule(("connect", eio_sid), time.monotonic() + self.seconds, lambda: self._check(eio_sid))
            return on_connect(eio_sid, environ, *args)

        self.server.eio.on("connect", connect)

    def _joined(self, eio_sid: str) -> bool:
        manager = self.server.manager
        return any(manager.sid_from_eio_sid(eio_sid, namespace) for namespace in list(manager.get_namespaces()))

    def _check(self, eio_sid: str) -> None:
        if eio_sid not in self.server.environ or self._joined(eio_sid):
            return
        log.debug("engine.io connection %s joined no namespace in %ss; closed", eio_sid, self.seconds)
        raw = self.server.environ[eio_sid].get("gunicorn.socket")
        socket_ = self.server.eio.sockets.get(eio_sid)
        if socket_ is not None:  # without waiting: a client that left never takes the packet
            socket_.close(wait=False, reason=self.server.eio.reason.SERVER_DISCONNECT)
        if raw is not None:
            self.server.start_background_task(_shut_after_grace, self.server, raw)


def _shut_after_grace(server: Any, raw: socket.socket) -> None:
    server.sleep(CLOSE_GRACE_SECONDS)
    try:
        raw.shutdown(socket.SHUT_RDWR)  # the handler's next read ends; gunicorn then closes it
    except OSError:
        pass  # closed meanwhile, as it should be
