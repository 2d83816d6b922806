"""A consumer inside `python -m app serve`, so the embedded defaults run jobs with nothing else.

With no Redis there is no message queue: a push can reach a browser only from
the process that holds its socket, and gunicorn then runs exactly one worker
(flask_keel/workers.py). So the consumer runs in that worker, as greenlets beside the
requests (threads under the sync and gthread worker classes): progress goes
straight to the sockets, and no extra process has to be started or watched.
With Redis storage the consumer is the `worker` service instead (JOBS.CONSUMER).

Started from gunicorn's post_worker_init (flask_keel/gunicorn_conf.py). When several
workers run (CONSUMER: app with Redis), one of them, the holder of a file lock
in the instance folder, runs it; the others try again every few seconds, so
another takes over when that worker goes. On SIGTERM the consumer stops taking
jobs at once and lets the running ones finish within GRACEFUL_TIMEOUT; what is
left goes back to the queue. A worker killed outright leaves its jobs claimed:
the next consumer puts them back after JOBS.LEASE seconds.

Jobs and requests then share one thread, and SQLite's wait for a lock is a sleep
in C that no greenlet can interrupt: a request writing while a job's read
transaction is open across a wait (a push, a DNS lookup) would stop the process
until the busy timeout. So the app's SQLite databases are put in WAL mode, where
readers never block a writer (a job's writes are kept short and pause-free).
"""

from __future__ import annotations

import atexit
import fcntl
import logging
import threading
import time
from typing import Any

from flask import Flask

from flask_keel.db import db
from flask_keel.extensions import SETTINGS_KEY, gevent_patched
from flask_keel.jobs.consumer import JobConsumer
from flask_keel.jobs.queue import consumer_kind, jobs_of
from flask_keel.realtime import socketio_of, user_room
from flask_keel.rpc.encoding import to_builtins

log = logging.getLogger("flask_keel.jobs")

LOCK_RETRY_SECONDS = 5.0

_supervisor: threading.Thread | None = None


def app_pusher(app: Flask):
    """Pushes through the app's own Socket.IO server (its message queue, if any, carries them on)."""
    socketio = socketio_of(app)

    def push(user: int, event: str, data: Any) -> None:
        socketio.emit(event, to_builtins(data), to=user_room(user), namespace="/")

    return push


def start_in_worker(worker: Any) -> None:
    """gunicorn post_worker_init: start the app's consumer when JOBS.CONSUMER says so."""
    global _supervisor
    app = _flask_app(worker.wsgi)
    if app is None or consumer_kind(app.extensions[SETTINGS_KEY]) != "app":
        return
    _supervisor = threading.Thread(target=_supervise, args=(app, worker), name="jobs-consumer", daemon=True)
    _supervisor.start()


class _DevServerLife:
    """What _supervise watches in place of a gunicorn worker: alive until the process exits."""

    alive = True


def start_in_dev_server(app: Flask) -> None:
    """`make dev`: the consumer beside Werkzeug's server, as `serve` runs it beside gunicorn's worker.
    A reload ends the process: the consumer stops first (atexit) without waiting for a running job,
    which goes back to the queue and runs again in the reloaded code (tasks are idempotent)."""
    if consumer_kind(app.extensions[SETTINGS_KEY]) != "app":
        return
    life = _DevServerLife()
    supervisor = threading.Thread(target=_supervise, args=(app, life, False), name="jobs-consumer", daemon=True)
    supervisor.start()

    def stop() -> None:
        life.alive = False
        supervisor.join(app.extensions[SETTINGS_KEY].server.GRACEFUL_TIMEOUT)

    atexit.register(stop)


def stop_in_worker(timeout: float) -> None:
    """gunicorn worker_exit: wait for the consumer's graceful stop (begun when the worker stopped)."""
    if _supervisor is not None:
        _supervisor.join(timeout)


def _supervise(app: Flask, worker: Any, graceful: bool = True) -> None:
    settings = app.extensions[SETTINGS_KEY]
    lock = _take_lock(settings.instance_path / "jobs-consumer.lock", worker)
    if lock is None:
        return
    _readers_never_block_writers(app)
    queue = jobs_of(app)
    queue.pusher = app_pusher(app)
    consumer = JobConsumer(queue, embedded=True, workers=settings.server.JOBS.CONCURRENCY,
                           worker_type="greenlet" if gevent_patched() else "thread",
                           shutdown_timeout=max(settings.server.GRACEFUL_TIMEOUT - 1, 1))
    consumer.start()
    log.info("jobs: consumer %s runs in this process (JOBS.CONSUMER app)", consumer.id)
    health_check = time.monotonic()
    while worker.alive:
        time.sleep(0.2)
        if time.monotonic() - health_check > 10:
            health_check = time.monotonic()
            consumer.check_worker_health()
    consumer.stop(graceful=graceful)
    consumer.finish()
    lock.close()


def _readers_never_block_writers(app: Flask) -> None:
    """WAL mode for each writable SQLite database of the app (a setting of the file, kept)."""
    settings = app.extensions[SETTINGS_KEY]
    for name, engine in db.engines_by_name(app).items():
        entry = settings.databases[name]
        if engine.dialect.name != "sqlite" or entry.readonly or not engine.url.database \
                or engine.url.database == ":memory:":
            continue
        try:
            connection = engine.raw_connection()
            try:
                connection.cursor().execute("PRAGMA journal_mode = WAL")
            finally:
                connection.close()
        except Exception:  # noqa: BLE001 - jobs still run; only the lock waits above remain
            log.exception("jobs: could not put database %r in WAL mode", name)


def _take_lock(path, worker):
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a")  # noqa: SIM115 - held for the worker's life
    while worker.alive:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return handle
        except BlockingIOError:
            time.sleep(LOCK_RETRY_SECONDS)
    handle.close()
    return None


def _flask_app(wsgi: Any) -> Flask | None:
    # The WSGI callable may be wrapped (middleware keeps the app as .app or .wsgi_app).
    for _ in range(5):
        if isinstance(wsgi, Flask):
            return wsgi
        wsgi = getattr(wsgi, "app", None) or getattr(wsgi, "application", None)
    return None
