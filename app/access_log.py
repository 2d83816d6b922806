"""One access line per request, and the request id, at the WSGI edge.

At the edge rather than in Flask hooks: it costs a few microseconds instead
of a few dozen (hooks, header objects, logger.info's caller lookup), and it
also sees Socket.IO's polling requests and responses Flask never made. The
line is written when the app returns its response, so for a streamed body
the duration is time to the headers.

Lines are written at once while the worker has nothing else to do (in tests,
at low traffic). When other requests are in flight (threads), or, under
gevent, other connections are ready in the same turn of the event loop (a
request served without waiting for I/O is never "in flight" beside another),
lines are queued and written together: by the last request of the turn, or
within half a second, or every 256 lines, whichever comes first. Writing them
in one go costs a fraction of one write per line (measured under gunicorn's
gevent worker: the access log went from ~60 to ~35 µs per request). Socket.IO
connections and WebSocket upgrades, which stay open, do not count as in
flight. Lines still queued when the process exits are written by an atexit hook.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from flask import Flask

from app.extensions import gevent_patched
from app.request_id import REQUEST_ID_HEADER, bind_request_id, request_id_for

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

access_log = logging.getLogger("app.access")

FLUSH_AFTER_SECONDS = 0.5
FLUSH_AT_LINES = 256

# (unix time, remote address, method, path, query, status, bytes, duration ms, request id)
_Line = tuple[float, str, str, str, str, int, "int | None", float, str]


class _Queue:
    """Lines waiting to be written, and how many requests are being served."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.lines: list[_Line] = []
        self.in_flight = 0
        self.timer: threading.Timer | None = None
        # Under gevent: whether other connections are ready in this turn of the loop.
        self.others_ready: Callable[[], bool] = _nothing_ready

    def started(self) -> None:
        with self.lock:
            self.in_flight += 1

    def finished(self, line: _Line | None, counted: bool) -> None:
        # Nothing that may wait runs under the lock: under gevent, starting the timer
        # switches greenlets, and every request would then queue on the lock behind it
        # (measured: ~50 µs per request, in a convoy through the event loop).
        timer = None
        with self.lock:
            if counted:
                self.in_flight -= 1
            if line is not None:
                self.lines.append(line)
            if not self.lines:
                return
            if (self.in_flight > 0 or self.others_ready()) and len(self.lines) < FLUSH_AT_LINES:
                if self.timer is None:
                    timer = self.timer = threading.Timer(FLUSH_AFTER_SECONDS, self.flush)
                    timer.daemon = True
                batch = None
            else:
                batch, self.lines = self.lines, []
        if timer is not None:
            timer.start()
        if batch:
            _write(batch)

    def flush(self) -> None:
        with self.lock:
            batch, self.lines = self.lines, []
            self.timer = None
        _write(batch)


def _nothing_ready() -> bool:
    return False


def _gevent_others_ready() -> Callable[[], bool] | None:
    """Under gevent's libev loop: a check that other greenlets are still to run in the
    loop's current turn. libev counts the watchers of the turn not yet run (connections
    with a request ready, mostly) and gevent queues the greenlets it resumes otherwise
    (after a sleep(0), an event); the turn's last request finds both empty."""
    if not gevent_patched():
        return None
    from gevent import get_hub

    loop = get_hub().loop
    if not hasattr(loop, "pendingcnt") or not hasattr(loop, "_callbacks"):  # libuv's loop: write each line
        return None

    def others_ready() -> bool:
        loop = get_hub().loop
        return loop.pendingcnt > 0 or bool(loop._callbacks)  # noqa: SLF001 - gevent's queue of greenlets to resume

    return others_ready


_queue = _Queue()
atexit.register(_queue.flush)


ACCESS_FORMAT = '%s "%s %s" %s %sms'


def _record_maker():
    """A function making one access record from its fields. A record of the batch is
    copied from one made by the logger (makeRecord, not info(): info() walks the stack for
    the caller's file and line) with only what differs replaced: LogRecord's constructor
    looks up the thread, process and file name again for every line. Where a program has
    set its own record factory, that factory makes every record."""
    if logging.getLogRecordFactory() is not logging.LogRecord:
        def make(created: float, args: tuple) -> logging.LogRecord:
            record = access_log.makeRecord(access_log.name, logging.INFO, __file__, 0, ACCESS_FORMAT, args, None)
            record.created = created
            record.msecs = (created - int(created)) * 1000
            return record

        return make
    model = access_log.makeRecord(access_log.name, logging.INFO, __file__, 0, ACCESS_FORMAT, (), None).__dict__
    new_record = logging.LogRecord.__new__
    start = logging._startTime  # noqa: SLF001 - what relativeCreated counts from

    def make_copy(created: float, args: tuple) -> logging.LogRecord:
        record = new_record(logging.LogRecord)
        record.__dict__.update(model)
        record.args = args
        record.created = created
        record.msecs = (created - int(created)) * 1000
        record.relativeCreated = (created - start) * 1000
        return record

    return make_copy


def _write(batch: list[_Line]) -> None:
    records = []
    make = _record_maker()
    for created, remote, method, path, query, status, size, duration_ms, request_id in batch:
        record = make(created, (remote, method, f"{path}?{query}" if query else path, status, duration_ms))
        record.request_id = request_id
        record.method = method
        record.path = path
        record.status = status
        record.duration_ms = duration_ms
        record.remote_addr = remote
        record.bytes = size
        if not access_log.disabled and access_log.filter(record):
            records.append(record)
    if records:
        for handler in _handlers_reached():
            _emit_all(handler, records)


def _handlers_reached() -> list[logging.Handler]:
    """The handlers a record of the access logger reaches, as Logger.callHandlers finds them."""
    handlers: list[logging.Handler] = []
    logger: logging.Logger | None = access_log
    while logger is not None:
        handlers.extend(logger.handlers)
        if not logger.propagate:
            break
        logger = logger.parent
    if not handlers and logging.lastResort is not None:
        handlers.append(logging.lastResort)  # as logging does when nothing is configured
    return handlers


def _emit_all(handler: logging.Handler, records: list[logging.LogRecord]) -> None:
    """The records through one handler: a plain stream gets them in one write and one
    flush, not one of each per line (a system call per access line otherwise)."""
    if type(handler) is not logging.StreamHandler:
        for record in records:
            if record.levelno >= handler.level:
                handler.handle(record)
        return
    lines = []
    for record in records:
        if record.levelno >= handler.level and handler.filter(record):
            try:
                lines.append(handler.format(record) + handler.terminator)
            except Exception:  # noqa: BLE001 - as logging does: report, go on with the others
                handler.handleError(record)
    if not lines:
        return
    with handler.lock:  # type: ignore[union-attr] - created by every Handler
        try:
            handler.stream.write("".join(lines))
            handler.flush()
        except Exception:  # noqa: BLE001
            handler.handleError(records[-1])


def long_lived(environ: WSGIEnvironment, prefix: str) -> bool:
    """A WebSocket upgrade or a Socket.IO request: open as long as the client stays, so
    neither in flight (the access log's batching) nor a latency (metrics)."""
    return "HTTP_UPGRADE" in environ or environ.get("PATH_INFO", "").startswith(prefix)


class RequestLog:
    """WSGI middleware: gives each request its id (X-Request-ID) and logs one access line."""

    def __init__(self, wsgi_app: WSGIApplication, long_lived_prefix: str) -> None:
        self.wsgi_app = wsgi_app
        self.long_lived_prefix = long_lived_prefix

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        request_id = request_id_for(environ.get("HTTP_X_REQUEST_ID"))
        bind_request_id(request_id)
        sent: list = []

        def start(status: str, headers: list[tuple[str, str]], exc_info=None):
            headers.append((REQUEST_ID_HEADER, request_id))
            sent[:] = (status, _content_length(headers))
            return start_response(status, headers, exc_info)

        upgrade = "HTTP_UPGRADE" in environ
        counted = not long_lived(environ, self.long_lived_prefix)
        if counted:
            _queue.started()
        try:
            body = self.wsgi_app(environ, start)
        except StopIteration:
            # How a WebSocket handler tells gunicorn the connection is done: it
            # wrote the 101 response itself, without start_response (see below).
            raise
        except BaseException:
            sent[:] = ("500", None)
            raise
        finally:
            line = None
            if access_log.isEnabledFor(logging.INFO):
                status, size = sent or (("101", None) if upgrade else ("500", None))
                line = (time.time(), environ.get("REMOTE_ADDR", "-"), environ.get("REQUEST_METHOD", "-"),
                        environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""),
                        environ.get("QUERY_STRING", ""), int(status[:3]), size,
                        round((time.perf_counter() - started) * 1000, 2), request_id)
            _queue.finished(line, counted)
        return body


def _content_length(headers: list[tuple[str, str]]) -> int | None:
    for name, value in headers:
        if name.lower() == "content-length":
            return int(value) if value.isdigit() else None
    return None


def register_access_log(app: Flask, long_lived_prefix: str) -> None:
    """`long_lived_prefix`: where Socket.IO's connections, which stay open, are served."""
    app.wsgi_app = RequestLog(app.wsgi_app, long_lived_prefix)  # type: ignore[method-assign]
    _queue.others_ready = _gevent_others_ready() or _nothing_ready
