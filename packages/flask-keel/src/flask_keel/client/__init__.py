"""A Python client for the app: HTTP, named requests and pushes over one login.

    from flask_keel.client import Client

    with Client("http://127.0.0.1:4200") as client:
        client.login("ada", "correct horse battery")
        client.on("enrolled", lambda data: print(data["message"]))
        courses = client.send_request("courses.list", {"limit": 5})
        me = client.get("/ws/me")                       # a plain JSON endpoint

After login, named requests travel over Socket.IO (one connection, server
pushes on it); before, or with `realtime=False`, over HTTP (`POST /ws/<name>`).
`get`, `post`, `patch` and `delete` call JSON endpoints over HTTP with the
session and CSRF token. Errors are raised as typed exceptions
(flask_keel.client.errors). The socket reconnects by itself with exponential backoff.
One Client may be shared by several threads. Everything on the wire is JSON.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

try:
    import requests
    import websocket  # noqa: F401 - socketio's client needs it for its websocket transport
except ImportError as exc:  # pragma: no cover - the production image has no client extra
    raise ImportError(
        f"flask_keel.client needs {exc.name}, part of the `client` extra: pip install 'flask-keel[client]'",
        name=exc.name) from exc
import socketio

from flask_keel.client.cookies import LoopbackSession
from flask_keel.client.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotLoggedIn,
    PayloadTooLarge,
    RateLimited,
    RequestError,
    ServerError,
    TransportError,
    UnknownRequest,
    error_for,
)

__all__ = ["BadRequest", "Client", "Conflict", "Forbidden", "NotLoggedIn", "PayloadTooLarge", "RateLimited",
           "RequestError", "ServerError", "TransportError", "UnknownRequest"]


class Client:
    def __init__(self, url: str, *, timeout: float = 10.0, realtime: bool = True,
                 reconnect_delay: float = 0.5, reconnect_delay_max: float = 5.0):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.realtime = realtime
        self.http = LoopbackSession()
        self.user: dict[str, Any] | None = None
        self._csrf_token: str | None = None
        self._lock = threading.RLock()  # guards the HTTP session and the login state
        self.sio = socketio.Client(http_session=self.http, reconnection=True, reconnection_attempts=0,
                                   reconnection_delay=reconnect_delay, reconnection_delay_max=reconnect_delay_max,
                                   randomization_factor=0.5)
        self._refusal: Any = None
        # The server's reason for refusing a connection comes as an event, not in the exception.
        self.sio.on("connect_error", handler=self._remember_refusal)

    def _remember_refusal(self, data: Any) -> None:
        self._refusal = data.get("message") if isinstance(data, dict) else data

    # -- HTTP ---------------------------------------------------------------------------

    def request(self, method: str, path: str, payload: Any = None) -> Any:
        """Call a JSON endpoint (`client.request("PATCH", "/ws/courses/3", {...})`); its JSON answer."""
        return self._http(method.upper(), path, payload)

    def get(self, path: str) -> Any:
        return self._http("GET", path)

    def post(self, path: str, payload: Any = None) -> Any:
        return self._http("POST", path, payload)

    def patch(self, path: str, payload: Any = None) -> Any:
        return self._http("PATCH", path, payload)

    def delete(self, path: str) -> Any:
        return self._http("DELETE", path)

    def _http(self, method: str, path: str, payload: Any = None) -> Any:
        with self._lock:
            headers = {}
            if method != "GET":
                headers["X-CSRFToken"] = self._token()
            try:
                response = self.http.request(method, self.url + path, json=payload, headers=headers,
                                             timeout=self.timeout)
            except requests.RequestException as exc:
                raise TransportError(str(exc), code="unreachable") from exc
            body = response.json() if response.headers.get("Content-Type", "").startswith("application/json") \
                else None
            if response.status_code >= 400:
                raise error_for(response.status_code, body)
            if isinstance(body, dict) and "csrf_token" in body:
                self._csrf_token = body["csrf_token"]  # a login starts a new session, with a new token
            return body

    def _token(self) -> str:
        if self._csrf_token is None:
            self._csrf_token = self._http("GET", "/ws/csrf")["csrf_token"]
        return self._csrf_token

    # -- account --------------------------------------------------------------------------

    def signup(self, username: str, password: str, email: str) -> dict[str, Any]:
        return self._signed_in(self._http("POST", "/ws/signup",
                                          {"username": username, "password": password, "email": email}))

    def login(self, username: str, password: str) -> dict[str, Any]:
        """Log in (a session cookie), then open the socket that carries requests and pushes."""
        return self._signed_in(self._http("POST", "/ws/login", {"username": username, "password": password}))

    def _signed_in(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.user = body["user"]
            if self.realtime:
                self._reconnect_socket()
        return self.user

    def clone(self) -> Client:
        """Another client on this login (same session), with its own socket."""
        with self._lock:
            twin = Client(self.url, timeout=self.timeout, realtime=self.realtime)
            twin.http.cookies.update(self.http.cookies)
            twin._csrf_token = self._csrf_token
            if self.user is not None:
                twin._signed_in({"user": self.user})
        return twin

    def logout(self) -> None:
        """End the login (and, on the server, every socket opened on it); the client may log in again."""
        with self._lock:
            self.disconnect()
            self._http("POST", "/ws/logout")
            self.user = None
            # The token belonged to the session that just ended; the next call fetches a new one.
            self._csrf_token = None

    # -- socket ---------------------------------------------------------------------------

    def _reconnect_socket(self) -> None:
        self.disconnect()
        self._refusal = None
        try:
            self.sio.connect(self.url, auth={"csrf_token": self._csrf_token}, transports=["websocket"],
                             wait_timeout=self.timeout)
        except socketio.exceptions.ConnectionError as exc:
            raise TransportError(f"the socket was refused: {self._refusal or exc}", code="socket_refused") from exc

    @property
    def connected(self) -> bool:
        return self.sio.connected

    def disconnect(self) -> None:
        if self.sio.connected:
            self.sio.disconnect()

    def on(self, event: str, handler: Callable[[Any], None] | None = None):
        """Call `handler(data)` for each push of `event`; usable as a decorator."""
        if handler is None:
            return lambda fn: self.on(event, fn)
        self.sio.on(event, handler=handler)
        return handler

    # -- requests -------------------------------------------------------------------------

    def send_request(self, name: str, payload: Any = None, *, timeout: float | None = None) -> Any:
        """Run the named view on the server and return what it returned."""
        if not self.sio.connected:
            return self._http("POST", f"/ws/{name}", payload)
        try:
            answer = self.sio.call("rpc", {"name": name, "payload": payload}, timeout=timeout or self.timeout)
        except socketio.exceptions.TimeoutError as exc:
            raise TransportError(f"no answer to {name!r} within {timeout or self.timeout}s", code="timeout") from exc
        except socketio.exceptions.BadNamespaceError as exc:  # the socket dropped; HTTP still works
            if self.sio.connected:
                raise TransportError(str(exc), code="socket_closed") from exc
            return self._http("POST", f"/ws/{name}", payload)
        if isinstance(answer, dict) and answer.get("ok"):
            return answer.get("result")
        if isinstance(answer, dict):
            raise error_for(int(answer.get("status") or 500), answer)
        raise ServerError(f"unexpected answer {answer!r}", code="bad_answer")

    def close(self) -> None:
        self.disconnect()
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()
