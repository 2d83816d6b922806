"""gunicorn settings, read from SERVER_ENV of the app's config.

Used as `gunicorn -c python:app.gunicorn_conf app.wsgi:application` (which
`python -m app serve` runs). It imports only the config code: Flask is loaded
by each worker after the gevent worker has patched the standard library.
"""

from app.config import load_settings
from app.workers import worker_processes

_settings = load_settings()
_server = _settings.server

_address = _server.BIND.ADDRESS
bind = [f"[{_address}]:{_server.BIND.PORT}" if ":" in _address else f"{_address}:{_server.BIND.PORT}"]
worker_class = _server.WORKERS
if worker_class == "gevent":
    # gevent's worker with a bound on the connections one client address may hold.
    from app.gunicorn_worker import ClientBoundGeventWorker

    worker_class = "app.gunicorn_worker.ClientBoundGeventWorker"
    # Behind proxies every connection comes from a proxy, which keeps the bound per client.
    ClientBoundGeventWorker.per_client = 0 if _server.TRUSTED_PROXIES else _server.CLIENT_CONNECTIONS
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
# through SERVER_ENV.TRUSTED_PROXIES (werkzeug's ProxyFix, app/security.py).
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


def when_ready(server) -> None:
    # One line saying how many workers and why (app/workers.py).
    server.log.info("%s", _workers_reason)


def pre_request(worker, _request) -> None:
    # Fairness for the gevent worker: a keep-alive connection whose next request
    # is already buffered is served without ever blocking, so a few fast clients
    # could keep the worker to themselves while requests waiting on MySQL or
    # Redis never get their turn (measured: 1,470 JSON responses/s against 4
    # dashboards/s, and pool timeouts). Yielding once per request lets every
    # ready greenlet run first.
    if _yield_to_others is not None:
        _yield_to_others(0)


def post_worker_init(worker) -> None:
    global _yield_to_others
    from gunicorn.workers.ggevent import GeventWorker

    if isinstance(worker, GeventWorker):
        import gevent

        _yield_to_others = gevent.sleep


_yield_to_others = None
