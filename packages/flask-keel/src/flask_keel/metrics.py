"""What the app counts for Prometheus: requests by route and status, their latency,
open Socket.IO connections, the database pools, and session-store and cache failures.

Recording only. Under gunicorn every worker writes its numbers into files of
PROMETHEUS_MULTIPROC_DIR (prometheus-client's multiprocess mode), and the master
sums them at each scrape on SERVER_ENV.METRICS_PORT (flask_keel/gunicorn_conf.py); the
app's own port never serves them. With METRICS_PORT unset nothing is hooked in,
and the two failure counters (bumped by flask_keel/cache.py and flask_keel/sessions) count in
memory for no one.

Labels stay few: a request is labelled by its URL rule (`/ws/courses/<int:course_id>`,
never the raw path, so ids cannot multiply the series), `unmatched` when no rule
matched (a 404), its method (`other` for any method no route uses) and its status.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from prometheus_client import Counter, Gauge, Histogram

from flask_keel.access_log import long_lived
from flask_keel.config import ConfigError

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from flask import Flask
    from sqlalchemy import Engine

    from flask_keel.config import Settings



def ensure_multiprocess_dir(environ: Mapping[str, str] = os.environ) -> None:
    """Make PROMETHEUS_MULTIPROC_DIR when it names a missing folder (as gunicorn_conf does).

    prometheus-client opens a file there as each metric below is defined, so a missing folder
    would end any command that builds the app with a traceback. A folder that cannot be made
    is a config error: one line naming it.
    """
    directory = environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory or os.path.isdir(directory):
        return
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
    except OSError as exc:
        raise ConfigError([f"PROMETHEUS_MULTIPROC_DIR names {directory}, which does not exist and cannot be "
                           f"created ({exc.strerror or exc}): create it or unset the variable"]) from None


ensure_multiprocess_dir()

REQUESTS = Counter("http_requests_total", "HTTP requests answered, by method, URL rule and status.",
                   ["method", "route", "status"])
# Seconds until the response's headers (a streamed body may take longer), by URL rule.
LATENCY = Histogram("http_request_duration_seconds", "Time to answer an HTTP request, by URL rule.", ["route"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
# livesum: the sum over the workers alive now; a dead worker's sockets are gone with it.
SOCKETS = Gauge("socketio_connections", "Open Socket.IO (Engine.IO) connections.", multiprocess_mode="livesum")
POOL_IN_USE = Gauge("db_pool_connections_in_use", "Database connections checked out of the pools.",
                    ["database"], multiprocess_mode="livesum")
POOL_WAITING = Gauge("db_pool_waiting", "Requests waiting for a database connection (none idle in the pool).",
                     ["database"], multiprocess_mode="livesum")
POOL_SIZE = Gauge("db_pool_size", "Database connections the pools may hold (pool_size + max_overflow).",
                  ["database"], multiprocess_mode="livesum")
SESSION_STORE_FAILURES = Counter("session_store_failures", "Session store (Redis, memcached) calls that failed.")
CACHE_FAILURES = Counter("cache_failures", "Cache server calls that failed (the cache then misses).")

UNMATCHED = "unmatched"
ROUTE_KEY = "flask_keel.metrics.route"  # the matched URL rule, kept in the WSGI environ
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def register_metrics(app: Flask, settings: Settings, *, long_lived_prefix: str, eio: Any,
                     engines: Callable[[], Mapping[str, Engine]]) -> None:
    """Count requests, sockets and pool use, when SERVER_ENV.METRICS_PORT asks for metrics.

    What is counted is handed in by the factory (metrics sits below db and realtime):
    `long_lived_prefix`, the path prefix of Socket.IO's requests (not timed); `eio`, the
    Engine.IO server whose connections are counted; `engines`, the databases' engines
    by name (called only when metrics are on).
    """
    if settings.server.METRICS_PORT is None:
        return
    app.wsgi_app = RequestMetrics(app.wsgi_app, long_lived_prefix=long_lived_prefix)  # type: ignore[method-assign]
    # Flask forgets the request (and its rule) before the middleware gets the response
    # back, so the rule is noted in the environ as soon as routing matched one: the
    # first of the app's URL value preprocessors, which run before any view or hook.
    app.url_value_preprocessors.setdefault(None, []).insert(0, note_route)
    count_sockets(eio)
    for name, engine in engines().items():
        watch_pool(name, engine)


class RequestMetrics:
    """WSGI middleware: one count and one latency observation per request.

    At the WSGI edge, like the access log, for its cost (a few microseconds). The
    URL rule is the one note_route left in the environ. Socket.IO's
    connections are counted by the gauge instead: their "latency" would be their
    lifetime.
    """

    def __init__(self, wsgi_app: WSGIApplication, long_lived_prefix: str) -> None:
        self.wsgi_app = wsgi_app
        self.long_lived_prefix = long_lived_prefix
        # The labelled children, cached: labels() takes a lock and builds a key each time.
        self.counters: dict[tuple[str, str, str], Any] = {}
        self.histograms: dict[str, Any] = {}

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if long_lived(environ, self.long_lived_prefix):
            return self.wsgi_app(environ, start_response)
        started = time.perf_counter()
        status = ["500"]

        def start(status_line: str, headers: list[tuple[str, str]], exc_info=None):
            status[0] = status_line[:3]
            return start_response(status_line, headers, exc_info)

        try:
            return self.wsgi_app(environ, start)
        finally:
            self.record(environ, status[0], time.perf_counter() - started)

    def record(self, environ: WSGIEnvironment, status: str, seconds: float) -> None:
        route = environ.get(ROUTE_KEY, UNMATCHED)
        method = environ.get("REQUEST_METHOD", "")
        key = (method if method in METHODS else "other", route, status)
        counter = self.counters.get(key)
        if counter is None:
            counter = self.counters[key] = REQUESTS.labels(*key)
        counter.inc()
        histogram = self.histograms.get(route)
        if histogram is None:
            histogram = self.histograms[route] = LATENCY.labels(route)
        histogram.observe(seconds)


def note_route(_endpoint: str | None, _values: dict[str, Any] | None) -> None:
    from flask import request

    rule = request.url_rule  # None when routing found nothing (the 404 and 405 to come)
    if rule is not None:
        request.environ[ROUTE_KEY] = rule.rule


def count_sockets(eio: Any) -> None:
    """Wrap Engine.IO's connect and disconnect handlers to keep SOCKETS at this process's count."""
    on_connect, on_disconnect = eio.handlers["connect"], eio.handlers["disconnect"]
    # By id, so a disconnect without an accepted connect (a refused one) cannot drive it below zero.
    open_sockets: set[str] = set()

    def connect(eio_sid: str, *args: Any) -> Any:
        accepted = on_connect(eio_sid, *args)
        if accepted is None or accepted is True:
            open_sockets.add(eio_sid)
            SOCKETS.set(len(open_sockets))
        return accepted

    def disconnect(eio_sid: str, *args: Any) -> Any:
        try:
            return on_disconnect(eio_sid, *args)
        finally:
            open_sockets.discard(eio_sid)
            SOCKETS.set(len(open_sockets))

    eio.on("connect", connect)
    eio.on("disconnect", disconnect)


def watch_pool(name: str, engine: Engine) -> None:
    """Connections in use (pool events) and checkouts that find none idle (a wrapped pool get)."""
    from sqlalchemy import event
    from sqlalchemy.pool import QueuePool

    in_use, waiting, size = POOL_IN_USE.labels(name), POOL_WAITING.labels(name), POOL_SIZE.labels(name)
    # Records by id, not a running sum: a connection invalidated during its checkout is
    # checked in without its checkout event having run, and must not count as -1.
    out: set[int] = set()

    def checked_out(_dbapi_connection, record, _proxy) -> None:
        out.add(id(record))
        in_use.set(len(out))

    def returned(_dbapi_connection, record) -> None:
        out.discard(id(record))
        in_use.set(len(out))

    event.listen(engine, "checkout", checked_out)
    event.listen(engine, "checkin", returned)
    event.listen(engine, "detach", returned)

    def count_waits(pool: Any) -> None:
        # SQLAlchemy has no event for a checkout that must wait, so the pool's own get
        # is wrapped: while no connection is idle, the caller waits for one to come
        # back or to be opened (up to pool_timeout, then the request answers 503).
        if not isinstance(pool, QueuePool):
            return
        size.set(pool.size() + max(pool._max_overflow, 0))  # noqa: SLF001 - create_engine's max_overflow
        get = pool._do_get  # noqa: SLF001

        def get_counting_waits():
            if pool.checkedin():
                return get()
            waiting.inc()
            try:
                return get()
            finally:
                waiting.dec()

        pool._do_get = get_counting_waits  # noqa: SLF001

    count_waits(engine.pool)
    # engine.dispose() puts a new pool in place: wrap that one too.
    event.listen(engine, "engine_disposed", lambda _engine: count_waits(engine.pool))
