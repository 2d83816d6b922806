"""The app's job queue: a Huey built from SERVER_ENV.JOBS, one per app.

- storage: SQLite (a file under the instance folder) or Redis (SERVICES.redis),
  both claiming what they hand out (storage.py);
- payloads: JSON, never pickle (serializer.py);
- each job runs in an app context, with its user and id known to `progress()`;
- its result or failure is pushed to that user ("job.done" / "job.failed");
  a job that fails for good is kept under "failed:<id>" for `flask jobs retry`.

Results are not stored (results=False): they are pushed to the user who asked,
and nothing reads them back, so storage does not grow with every job.
"""

from __future__ import annotations

import datetime
import logging
import os
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol

from flask import Flask, current_app
from huey import Huey
from huey import signals as S
from huey.api import TaskWrapper
from huey.exceptions import CancelExecution

from flask_keel.jobs.serializer import JsonSerializer
from flask_keel.jobs.storage import ClaimingRedisStorage, ClaimingSqliteStorage
from flask_keel.services import redis_url

log = logging.getLogger("flask_keel.jobs")

JOBS_KEY = "flask_keel.jobs"
FAILED_PREFIX = "failed:"

Pusher = Callable[[int, str, Any], None]

# The kwarg that carries the enqueuing user's id; taken out before the function runs.
USER_KEY = "_job_user"


class TaskDefinition(Protocol):
    """A task as the queue sees it: flask_keel.jobs.tasks.JobFunction (tasks imports this module)."""

    name: str
    options: dict[str, Any]
    schedule: Any

    def runner(self) -> Callable[..., Any]: ...

    def due(self, timestamp: datetime.datetime) -> int | None: ...


# Every task defined so far, by name ("module.function"), filled by flask_keel.jobs.tasks.
# A module imported again (tests load projects afresh) replaces its tasks here.
DEFINED: dict[str, TaskDefinition] = {}


class JobError(CancelExecution):
    """A failure the user should read, and that retrying cannot fix (a bad CSV row).

    Not retried; its message is pushed as the job's error as it is.
    """

    def __init__(self, message: str):
        super().__init__(message, retry=False)


@dataclass(frozen=True)
class RunningJob:
    queue: JobQueue
    id: str
    name: str
    user: int | None


_running: ContextVar[RunningJob | None] = ContextVar("running_job", default=None)


def running_job() -> RunningJob | None:
    """The job this code runs in, or None outside a job."""
    return _running.get()


class JobQueue(Huey):
    def __init__(self, name: str, lease: float, **kwargs: Any):
        super().__init__(name, results=False, serializer=JsonSerializer(), **kwargs)
        self.lease = lease
        self.app: Flask | None = None
        # How pushes leave this process (set by whoever runs the consumer); None: not pushed.
        self.pusher: Pusher | None = None
        self._wrappers: dict[str, TaskWrapper] = {}
        self._post_execute["flask_keel.jobs.report"] = self._report
        self.signal(S.SIGNAL_INTERRUPTED)(self._interrupted)

    # --- tasks ---------------------------------------------------------------

    def wrapper(self, function: TaskDefinition) -> TaskWrapper:
        """Huey's wrapper of `function` in this queue, registered on first use."""
        known = self._wrappers.get(function.name)
        if known is not None:
            if known._job_function is function:
                return known
            known.unregister()  # the module was imported again: the new definition wins
        options = dict(function.options)
        if function.schedule is not None:
            wrapper = self.periodic_task(function.due, **options)(function.runner())
        else:
            wrapper = self.task(**options)(function.runner())
        wrapper._job_function = function
        self._wrappers[function.name] = wrapper
        return wrapper

    def register_all(self) -> None:
        for function in list(DEFINED.values()):
            self.wrapper(function)

    def read_periodic(self, timestamp: datetime.datetime | None) -> list:
        # Each periodic task's period is claimed in storage: one consumer enqueues it, once.
        timestamp = timestamp or self._get_timestamp()
        due = []
        for wrapper in list(self._wrappers.values()):
            function: TaskDefinition = wrapper._job_function
            if function.schedule is None:
                continue
            period = function.due(timestamp)
            if period is not None and self.storage.claim_period(function.name, period):
                due.append(wrapper.s())
        return due

    # --- taking and running jobs ----------------------------------------------

    def dequeue(self):
        data = self.storage.dequeue()
        if data is None:
            return None
        try:
            task = self.deserialize_task(data)
        except Exception as exc:  # noqa: BLE001 - an unreadable message is set aside, never retried forever
            log.error("job message set aside, it cannot be read: %s", exc)
            self.put(f"{FAILED_PREFIX}unreadable-{os.urandom(6).hex()}",
                     {"task": "?", "error": f"unreadable message: {exc}", "user": None,
                      "failed_at": _now(), "message": None})
            self.storage.ack(data)
            return None
        task._claim = data
        return task

    def execute(self, task, timestamp=None):
        token = _running.set(RunningJob(self, task.id, _label(task), task.kwargs.get(USER_KEY)))
        try:
            if self.app is None:
                return super().execute(task, timestamp)
            with self.app.app_context():
                return super().execute(task, timestamp)
        finally:
            _running.reset(token)
            claim = getattr(task, "_claim", None)
            # Done (or re-queued for a retry, or scheduled): it leaves the claims. An
            # interrupted job stays claimed and goes back when the consumer stops.
            if claim is not None and not getattr(task, "_interrupted", False):
                self.storage.ack(claim)

    def _interrupted(self, signal: str, task) -> None:
        task._interrupted = True

    def _report(self, task, value: Any, exception: BaseException | None) -> None:
        user = task.kwargs.get(USER_KEY)
        if exception is None:
            data = {"id": task.id, "task": _label(task), "result": value}  # the pusher makes it JSON
            if isinstance(value, dict) and isinstance(value.get("message"), str):
                data["message"] = value["message"]
            self.push(user, "job.done", data)
            return
        if task.retries:  # huey runs it again
            log.warning("job %s (%s) failed, %d retries left: %r", task.id, _label(task), task.retries, exception)
            return
        error = str(exception) if isinstance(exception, JobError) else \
            f"{type(exception).__name__}: the job failed; the worker's log has the details (job {task.id})."
        self.put(FAILED_PREFIX + task.id, {
            "task": _label(task), "error": error, "detail": repr(exception), "user": user, "failed_at": _now(),
            "message": self._registry.create_message(task)})
        self.push(user, "job.failed", {"id": task.id, "task": _label(task), "error": error,
                                       "message": f"{_label(task)} failed: {error}"})

    # --- pushes ----------------------------------------------------------------

    def push(self, user: int | None, event: str, data: Any) -> None:
        if user is None or self.pusher is None:
            return
        try:
            self.pusher(user, event, data)
        except Exception:  # noqa: BLE001 - a push that cannot leave must not fail the job
            log.exception("could not push %s to user %s", event, user)

    # --- failed jobs ------------------------------------------------------------

    def failed(self) -> dict[str, dict[str, Any]]:
        found = {}
        for key, raw in self.storage.result_items().items():
            key = key.decode() if isinstance(key, bytes) else key
            if key.startswith(FAILED_PREFIX):
                found[key[len(FAILED_PREFIX):]] = self.serializer.deserialize(raw)
        return found

    def retry_failed(self, job_id: str) -> str:
        """Enqueue a failed job again, with its task's retries; its id. KeyError: no such failed job."""
        record = self.get(FAILED_PREFIX + job_id, peek=True)
        if record is None:
            raise KeyError(job_id)
        if record.get("message") is None:
            raise ValueError(f"job {job_id} cannot be retried: {record['error']}")
        self.register_all()
        task = self._registry.create_task(record["message"])
        task.retries = type(task).default_retries
        self.enqueue(task)
        self.delete(FAILED_PREFIX + job_id)
        return task.id


def _label(task) -> str:
    return type(task).__name__


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def storage_kind(settings) -> str:
    chosen = settings.server.JOBS.STORAGE
    if chosen == "auto":
        return "redis" if redis_url(settings) else "sqlite"
    return chosen


def consumer_kind(settings) -> str:
    chosen = settings.server.JOBS.CONSUMER
    if chosen == "auto":
        return "app" if storage_kind(settings) == "sqlite" else "worker"
    return chosen


def build_queue(settings) -> JobQueue:
    jobs = settings.server.JOBS
    if storage_kind(settings) == "redis":
        import redis

        timeout = settings.redis.TIMEOUT
        # The socket timeout outlasts BLMOVE's one-second wait for a job.
        pool = redis.ConnectionPool.from_url(redis_url(settings), socket_connect_timeout=timeout,
                                             socket_timeout=timeout + 2, health_check_interval=30)
        queue = JobQueue(settings.key_namespace, jobs.LEASE, storage_class=ClaimingRedisStorage,
                         connection_pool=pool, read_timeout=1)
    else:
        path = settings.instance_path / jobs.FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            # Job arguments are users' data: readable by the app's user only, like the database.
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        queue = JobQueue(settings.key_namespace, jobs.LEASE, storage_class=ClaimingSqliteStorage,
                         filename=str(path))
    queue.register_all()
    return queue


def jobs_of(app: Flask | None = None) -> JobQueue:
    """The app's job queue, built on first use."""
    app = getattr(app or current_app, "_get_current_object", lambda: app)()
    queue = app.extensions.get(JOBS_KEY)
    if queue is None:
        from flask_keel.extensions import SETTINGS_KEY

        queue = app.extensions[JOBS_KEY] = build_queue(app.extensions[SETTINGS_KEY])
        queue.app = app
    return queue
