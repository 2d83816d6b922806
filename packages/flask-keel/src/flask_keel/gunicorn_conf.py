"""gunicorn settings, read from SERVER_ENV of the app's config.

Used as `gunicorn -c python:flask_keel.gunicorn_conf flask_keel.wsgi:application` (which
`python -m app serve` runs). It imports only the config code: Flask is loaded
by each worker after the gevent worker has patched the standard library.
"""

import os
import shutil
import tempfile
import time
from pathlib import Path

from flask_keel.config import load_settings
from flask_keel.workers import worker_processes

_settings = load_settings()
_server = _settings.server

_address = _server.BIND.ADDRESS
bind = [f"[{_address}]:{_server.BIND.PORT}" if ":" in _address else f"{_address}:{_server.BIND.PORT}"]
worker_class = _server.WORKERS
if worker_class == "gevent":
    # gevent's worker with a bound on the connections one client address may hold.
    from flask_keel.gunicorn_worker import ClientBoundGeventWorker

    worker_class = "flask_keel.gunicorn_worker.ClientBoundGeventWorker"
    # A proxy's connections carry many clients: it keeps the bound per client itself. Every
    # other peer, one that reaches the app directly, is bounded.
    ClientBoundGeventWorker.per_client = _server.CLIENT_CONNECTIONS
    if _server.TRUSTED_PROXIES:
        from flask_keel.security import TrustedPeers

        ClientBoundGeventWorker.unbounded = staticmethod(TrustedPeers(_server.proxy_networks).__contains__)
workers, _workers_reason = worker_processes(_settings)
threads = _server.THREADS_PER_CORE
worker_connections = _server.WORKER_CONNECTIONS
timeout = _server.TIMEOUT
graceful_timeout = _server.GRACEFUL_TIMEOUT
capture_output = _server.CAPTURE
loglevel = _server.LOG.LEVEL.lower()
# gunicorn would take X-Forwarded-Proto (and friends) from any client on loopback as
# proof of https (its forwarded_allow_ips default): a local client could then get
# HSTS over plain http, or pass for a proxy. The app alone decides whom to believe,
# through SERVER_ENV.TRUSTED_PROXIES (werkzeug's ProxyFix, flask_keel/security.py).
forwarded_allow_ips = ""
secure_scheme_headers: dict[str, str] = {}
# The app writes one access line per request itself (with its request id).
accesslog = None
errorlog = "-"
preload_app = False
proc_name = _server.APP_NAME
# gunicorn 27's control socket lives in $HOME: several instances on one host (tests,
# the scale profile) would share it, and a container's home may be read-only.
control_socket_disable = True

# /metrics (flask_keel/metrics.py): every worker records into files of one directory,
# which the master adds up at each scrape (prometheus-client's multiprocess mode).
# The directory starts empty on every server start: files left by an earlier run
# would be counted again. Set before any worker imports prometheus_client.
_metrics_port = _server.METRICS_PORT
_metrics_dir_made: str | None = None
if _metrics_port is not None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        _given = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
        _given.mkdir(parents=True, exist_ok=True)
        for _stale in _given.glob("*.db"):
            _stale.unlink()
    else:
        _metrics_dir_made = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="app-metrics-")
_metrics_server = None


def when_ready(server) -> None:
    # One line saying how many workers and why (flask_keel/workers.py).
    server.log.info("%s", _workers_reason)
    if _metrics_port is not None:
        _serve_metrics(server)


def _serve_metrics(server) -> None:
    """/metrics on METRICS_PORT, from a thread of the master: it outlives every worker
    and sums them all. A port that cannot be had stops the start with the reason."""
    global _metrics_server
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    address = _server.BIND.ADDRESS
    try:
        _metrics_server, _thread = start_http_server(_metrics_port, addr=address, registry=registry)
    except OSError as exc:
        raise RuntimeError(f"SERVER_ENV.METRICS_PORT: cannot serve metrics on {address}:{_metrics_port}: "
                           f"{exc.strerror or exc}") from exc
    server.log.info("Metrics at http://%s:%s/metrics (the workers' files in %s)", address, _metrics_port,
                    os.environ["PROMETHEUS_MULTIPROC_DIR"])


def post_fork(_server_, _worker) -> None:
    # A worker has no use for the master's metrics socket (and must not keep the
    # port bound should the master die first).
    if _metrics_server is not None:
        _metrics_server.socket.close()


def child_exit(_server_, worker) -> None:
    # A dead worker's live gauges (open sockets, pool use) stop counting; its
    # counters and histograms stay in the sums.
    if _metrics_port is not None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def on_exit(_server_) -> None:
    if _metrics_dir_made is not None:
        shutil.rmtree(_metrics_dir_made, ignore_errors=True)


def pre_request(worker, _request) -> None:
    # Fairness for the gevent worker: a keep-alive connection whose next request
    # is already buffered is served without ever blocking, so a few fast clients
    # could keep the worker to themselves while requests waiting on MySQL or
    # Redis never get their turn (measured: 1,470 JSON responses/s against 4
    # dashboards/s, and pool timeouts). When the event loop has not turned for
    # a time slice, this request first lets every ready greenlet run. Only then:
    # a switch to the hub on every request cost ~8% of a small JSON response.
    if _hub_turned_at is not None and time.monotonic() - _hub_turned_at > FAIR_SLICE_SECONDS:
        _yield_to_others(0)


# The longest the event loop may go without turning before a request yields (above).
FAIR_SLICE_SECONDS = 0.002
_hub_turned_at: float | None = None
_yield_to_others = None


def _note_hub_turn() -> None:
    global _hub_turned_at
    _hub_turned_at = time.monotonic()


def post_worker_init(worker) -> None:
    global _yield_to_others, _turn_watcher
    from gunicorn.workers.ggevent import GeventWorker

    if isinstance(worker, GeventWorker):
        import gevent

        _yield_to_others = gevent.sleep
        # A check watcher runs once per event-loop iteration, right after polling;
        # unreferenced, so it never keeps the loop alive by itself.
        _turn_watcher = gevent.get_hub().loop.check(ref=False)
        _turn_watcher.start(_note_hub_turn)
        _note_hub_turn()
    # Background jobs with nothing else running: a consumer beside the app, in this
    # worker, when SERVER_ENV.JOBS.CONSUMER is app (flask_keel/jobs/embedded.py says why).
    from flask_keel.jobs.embedded import start_in_worker

    start_in_worker(worker)


def worker_exit(_server, _worker) -> None:
    # The consumer began its graceful stop when the worker did; let it finish its job.
    from flask_keel.jobs.embedded import stop_in_worker

    stop_in_worker(timeout=graceful_timeout)


_turn_watcher = None
