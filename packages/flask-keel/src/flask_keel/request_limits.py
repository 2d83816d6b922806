"""How much a request body may hold, and how long its sender may take.

Size: FLASK.CONFIG.MAX_CONTENT_LENGTH (64 KiB by default) is what every request
may send; larger bodies answer 413 before they are read. A view that needs
more says so:

    from flask_keel.request_limits import body_limit

    @body_limit(5 * 1024 * 1024)        # this view accepts up to 5 MiB
    def import_students(): ...

Time: a client has REQUEST_BODY_TIMEOUT seconds (FLASK.CONFIG, default 10) to
send a whole body. A client trickling one byte every few seconds would
otherwise hold a connection, and a greenlet, for hours; past the deadline the
request answers 408 and the connection is closed (gunicorn's keep-alive
timeout bounds the drain of what is left). Headers are bounded by
gunicorn itself (its keep-alive timeout covers reading them). The deadline is
enforced under the gevent worker, where one connection costs a greenlet; the
sync and gthread workers are bounded by gunicorn's worker timeout instead.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from flask import Flask, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge, RequestTimeout

from flask_keel.extensions import gevent_patched

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

DEFAULT_MAX_CONTENT_LENGTH = 64 * 1024
DEFAULT_BODY_TIMEOUT = 10.0
LIMIT_ATTRIBUTE = "max_content_length"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

F = TypeVar("F", bound=Callable[..., Any])


class BodyTimeout(RequestTimeout):
    error_code = "request_timeout"
    description = "The request body did not arrive in time."


def body_limit(max_bytes: int) -> Callable[[F], F]:
    """Let one view (a route or a named request) accept bodies up to `max_bytes`."""

    def mark(view: F) -> F:
        setattr(view, LIMIT_ATTRIBUTE, max_bytes)
        return view

    return mark


def _apply_view_limit() -> None:
    """Before any hook reads the body (the CSRF check reads forms): the view's own limit.
    A named request's URL rule carries its view's attributes (flask_keel.rpc.http)."""
    if request.method in BODY_METHODS and request.endpoint is not None:
        limit = getattr(current_app.view_functions.get(request.endpoint), LIMIT_ATTRIBUTE, None)
        if limit is not None:
            request.max_content_length = limit
    if request.method in BODY_METHODS and request.content_length is None:
        _bound_unsized_body()


def _bound_unsized_body() -> None:
    """A body sent without Content-Length (chunked) over the limit is a 413 like any other.

    werkzeug stops reading such a body at the limit and hands on what it read, so a
    1 MB JSON body answered 400 "truncated". Here up to limit + 1 bytes are read first:
    one byte more than the limit is a 413; a body within it is kept for the view."""
    limit = request.max_content_length
    environ = request.environ
    if (limit is None or "HTTP_TRANSFER_ENCODING" not in environ or "wsgi.input_terminated" not in environ
            or "stream" in request.__dict__):
        return
    source = environ["wsgi.input"]
    chunks, size = [], 0
    while size <= limit:
        chunk = source.read(min(64 * 1024, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > limit:
        raise RequestEntityTooLarge()
    # Still without a length (werkzeug takes a chunked body for unsized): read to its end.
    environ["wsgi.input"] = io.BytesIO(b"".join(chunks))


class _DeadlineInput:
    """wsgi.input whose reads all end by one deadline (gevent's Timeout, across a whole read)."""

    def __init__(self, stream: Any, seconds: float) -> None:
        import gevent

        self._timeout_class = gevent.Timeout
        self.stream = stream
        self.deadline = time.monotonic() + seconds

    def _call(self, method: Callable[..., Any], *args: Any) -> Any:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise BodyTimeout()
        with self._timeout_class(remaining, BodyTimeout):
            return method(*args)

    def read(self, *args: Any) -> bytes:
        return self._call(self.stream.read, *args)

    def readline(self, *args: Any) -> bytes:
        return self._call(self.stream.readline, *args)

    def readlines(self, *args: Any) -> list[bytes]:
        return self._call(self.stream.readlines, *args)

    def __iter__(self) -> Any:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line


class BodyDeadline:
    """WSGI middleware giving request bodies a deadline; a late body answers 408 and closes."""

    def __init__(self, wsgi_app: WSGIApplication, seconds: float) -> None:
        self.wsgi_app = wsgi_app
        self.seconds = seconds

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("CONTENT_LENGTH", "0") not in ("", "0") or "HTTP_TRANSFER_ENCODING" in environ:
            # After a 408 gunicorn drains what is left of the body under its keep-alive
            # timeout before the next request, so a trickling client is cut off there.
            environ["wsgi.input"] = _DeadlineInput(environ["wsgi.input"], self.seconds)
        return self.wsgi_app(environ, start_response)


def register_request_limits(app: Flask) -> None:
    """MAX_CONTENT_LENGTH and REQUEST_BODY_TIMEOUT come from FLASK.CONFIG over app.factory's defaults."""
    app.before_request_funcs.setdefault(None, []).insert(0, _apply_view_limit)
    seconds = float(app.config["REQUEST_BODY_TIMEOUT"] or 0)
    if seconds > 0 and gevent_patched():
        app.wsgi_app = BodyDeadline(app.wsgi_app, seconds)  # type: ignore[method-assign]


__all__ = ["body_limit"]
