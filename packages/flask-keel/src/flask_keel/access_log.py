"""One access line per request, and the request id, at the WSGI edge; the
line is written here rather than by gunicorn's access log (`accesslog` with
`%({x-request-id}o)s`) for measured reasons. gunicorn's Logger.access costs
27 µs a line: it builds a dict of every request header, response header and
environ key, then writes and flushes the line alone; this module writes one
in 10.6 µs, or 5.1 µs a line when a turn's lines go out together (in-process,
medians of 7 rounds of 5,000 lines to a file, gunicorn 27.0.1). Under
gunicorn's gevent worker, /healthz took 213 µs with no access line, 254-265 µs
with this one and 286-331 µs with gunicorn's (1 worker, wrk, 8 connections,
3 s, loopback; shared cores, so ranges). gunicorn also writes no line for a
WebSocket session (its worker returns before logging once the app has taken
the socket; here it is a 101), its line is one preformatted string (no
request_id, status, path or duration_ms fields under LOG.FORMAT json), it goes
to gunicorn's own handler rather than LOG.DIR's, and it exists only under
gunicorn (not under `flask dev`, nor the test client). The middleware stays
in any case, for the request ids. Forging is not the reason: gunicorn 27
refuses control characters in the request line and headers, and its %(r)s is
the raw, still percent-encoded target (this line is escaped by logs.py).

At the edge rather than in Flask hooks: it costs a few microseconds instead
of a few dozen (hooks, header objects, logger.info's caller lookup), and it
also sees Socket.IO's polling requests and responses Flask never made. The
line is written when the app returns its response, so for a streamed body
the duration is time to the headers.

Lines are written at once while the worker serves one request at a time (in
tests, at low traffic); when other requests are in flight (threads), lines
are queued and written together, within half a second or every 256 lines,
whichever comes first. Under gevent a request served without waiting for I/O
is never in flight beside another, so there the batch is the turn of the
event loop: the lines of the requests ready in one turn are written together
once they have all run (every 256 lines at most), a few microseconds after
the responses went out. Writing lines in one go costs a fraction of one
write per line (measured under gunicorn's gevent worker: the access log went
from ~60 to ~35 µs of a ~300 µs JSON response). Socket.IO connections and
WebSocket upgrades, which stay open, do not count as in flight. Lines still
queued when the process exits are written by an atexit hook.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from flask import Flask

from flask_keel.extensions import gevent_patched
from flask_keel.request_id import REQUEST_ID_HEADER, bind_request_id, request_id_for

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
        # Under gevent: starts a greenlet running `flush`. It runs once the greenlets ready
        # in this turn of the event loop have run, so they write their lines together.
        self.flush_after_turn: Callable[[Callable[[], None]], object] | None = None
        self.flush_pending = False

    def started(self) -> None:
        with self.lock:
            self.in_flight += 1

    def finished(self, line: _Line | None, counted: bool) -> None:
        # Nothing that may wait runs under the lock: under gevent, starting the timer
        # switches greenlets, and every request would then queue on the lock behind it
        # (measured: ~50 µs per request, in a convoy through the event loop).
        timer = None
        after_turn = False
        batch = None
        with self.lock:
            if counted:
                self.in_flight -= 1
            if line is not None:
                self.lines.append(line)
            if not self.lines:
                return
            if len(self.lines) >= FLUSH_AT_LINES:
                batch, self.lines = self.lines, []
            elif self.flush_after_turn is not None:
                # A request served without waiting for I/O is never in flight beside
                # another under gevent: the batch is the loop's turn instead.
                after_turn = not self.flush_pending
                self.flush_pending = True
            elif self.in_flight > 0:
                if self.timer is None:
                    timer = self.timer = threading.Timer(FLUSH_AFTER_SECONDS, self.flush)
                    timer.daemon = True
            else:
                batch, self.lines = self.lines, []
        if after_turn:
            self.flush_after_turn(self.flush)  # type: ignore[misc] - set when after_turn is
        if timer is not None:
            self._start(timer)
        if batch:
            _write(batch)

    def _start(self, timer: threading.Timer) -> None:
        try:
            timer.start()
        except BaseException:
            with self.lock:  # a later request makes another
                self.timer = None
            raise

    def flush(self) -> None:
        with self.lock:
            batch, self.lines = self.lines, []
            self.timer = None
            self.flush_pending = False
        if batch:
            _write(batch)


def _gevent_flush_after_turn() -> Callable[[Callable[[], None]], object] | None:
    """Under gevent: gevent.spawn. A new greenlet starts from gevent's callback queue, which
    the loop runs after the watchers that were ready in its turn (the connections with a
    request waiting), so the greenlet writes what they all queued. A greenlet, not a
    callback of the loop itself: a logging handler may wait (a socket), which the loop may not."""
    if not gevent_patched():
        return None
    import gevent

    return gevent.spawn


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
    # relativeCreated as logging computes it, from the model's (its start time's unit
    # differs between Python versions).
    start = model["created"] - model["relativeCreated"] / 1000

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

    def __init__(self, wsgi_app: WSGIApplication, long_lived_prefix: str,
                 secret_prefixes: tuple[str, ...] = ()) -> None:
        self.wsgi_app = wsgi_app
        self.long_lived_prefix = long_lived_prefix
        # Paths whose next segment is a secret (a mailed link's token): logged as [redacted].
        self.secret_prefixes = secret_prefixes

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
                path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
                if self.secret_prefixes and path.startswith(self.secret_prefixes):
                    path = _redacted(path, self.secret_prefixes)
                line = (time.time(), environ.get("REMOTE_ADDR", "-"), environ.get("REQUEST_METHOD", "-"), path,
                        environ.get("QUERY_STRING", ""), int(status[:3]), size,
                        round((time.perf_counter() - started) * 1000, 2), request_id)
            _queue.finished(line, counted)
        return body


def _content_length(headers: list[tuple[str, str]]) -> int | None:
    for name, value in headers:
        if name.lower() == "content-length":
            return int(value) if value.isdigit() else None
    return None


# URL variables that hold a secret: a route such as /password/reset/<token> is logged
# with the token replaced, since access logs are kept longer and read more widely.
SECRET_URL_VARIABLES = frozenset({"token"})


def _secret_prefixes(app: Flask) -> tuple[str, ...]:
    """The static start of every rule whose first variable holds a secret."""
    prefixes = set()
    for rule in app.url_map.iter_rules():
        start, _, variable = rule.rule.partition("<")
        if variable and variable.split(">")[0].split(":")[-1] in SECRET_URL_VARIABLES:
            prefixes.add(start)
    return tuple(sorted(prefixes))


def _redacted(path: str, prefixes: tuple[str, ...]) -> str:
    prefix = max((p for p in prefixes if path.startswith(p)), key=len)
    rest = path[len(prefix):]
    _, slash, tail = rest.partition("/")
    return f"{prefix}[redacted]{slash}{tail}"


def register_access_log(app: Flask, long_lived_prefix: str) -> None:
    """`long_lived_prefix`: where Socket.IO's connections, which stay open, are served.
    Call it once the routes are registered: it reads which paths carry secrets."""
    app.wsgi_app = RequestLog(app.wsgi_app, long_lived_prefix, _secret_prefixes(app))  # type: ignore[method-assign]
    _queue.flush_after_turn = _gevent_flush_after_turn()
