"""The app's job queue: a Huey built from SERVER_ENV.JOBS, one per app.

- storage: SQLite (a file under the instance folder) or Redis (SERVICES.redis),
  both claiming what they hand out (storage.py);
- payloads: JSON, never pickle (serializer.py);
- each job runs in an app context, with its user and id known to `progress()`;
- its result or failure is pushed to that user ("job.done" / "job.failed");
  a job that fails for good is kept under "failed:<id>" for `flask jobs retry`,
  for JOBS.FAILED_DAYS days; its arguments (a user's upload) only when retrying
  could help: not after a JobError, nor for a task declared `keep_failed=False`;
- what users enqueue is bounded per user and task: JOBS.PER_USER jobs waiting or
  running, JOBS.USER_RATE enqueued (TooManyJobs, a 429, past either), so one
  user's uploads cannot fill the storage that sessions share (Redis).

Results are not stored (results=False): they are pushed to the user who asked,
and nothing reads them back, so storage does not grow with every job.
"""

from __future__ import annotations

import datetime
import logging
import os
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol

from flask import Flask, current_app
from huey import Huey
from huey import signals as S
from huey.api import TaskWrapper
from huey.exceptions import CancelExecution

from flask_keel.auth.limits import Counters, RateLimiter, TooManyAttempts
from flask_keel.auth.limits import storage as limits_storage
from flask_keel.jobs.serializer import JsonSerializer
from flask_keel.jobs.storage import ClaimingRedisStorage, ClaimingSqliteStorage
from flask_keel.services import redis_url

log = logging.getLogger("flask_keel.jobs")

JOBS_KEY = "flask_keel.jobs"
FAILED_PREFIX = "failed:"

Pusher = Callable[[int, str, Any], None]

# The kwarg that carries the enqueuing user's id; taken out before the function runs.
USER_KEY = "_job_user"
# Options of ours in @task(...), taken out before huey sees the rest.
OWN_OPTIONS = ("keep_failed",)
# A job counted as waiting or running for longer than this no longer counts against its
# user's JOBS.PER_USER (a job lost without finishing, e.g. storage flushed, frees its place).
PENDING_MAX_AGE = 3600.0
# Failed jobs past JOBS.FAILED_DAYS are deleted this often by a consumer (and on listing).
EXPIRE_EVERY = 600.0


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


class TooManyJobs(TooManyAttempts):
    """429: the signed-in user has JOBS.PER_USER jobs of this task waiting or running,
    or enqueued JOBS.USER_RATE of them; Retry-After says when to try again."""


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


@dataclass(frozen=True)
class UserLimits:
    """JOBS.PER_USER, JOBS.USER_RATE and JOBS.FAILED_DAYS, as the queue applies them."""

    per_user: int = 3
    rate: RateLimiter | None = None
    failed_seconds: float = 7 * 86400.0


class JobQueue(Huey):
    def __init__(self, name: str, lease: float, limits: UserLimits | None = None, **kwargs: Any):
        super().__init__(name, results=False, serializer=JsonSerializer(), **kwargs)
        self.lease = lease
        self.limits = limits or UserLimits()
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
        options = {key: value for key, value in function.options.items() if key not in OWN_OPTIONS}
        if function.schedule is not None:
            wrapper = self.periodic_task(function.due, **options)(function.runner())
        else:
            wrapper = self.task(**options)(function.runner())
        wrapper._job_function = function
        wrapper.task_class.keep_failed = function.options.get("keep_failed", True)
        wrapper.task_class._job_function_name = function.name
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

    # --- what users may enqueue -------------------------------------------------

    def admit(self, task_name: str, user: int, job_id: str) -> None:
        """Count a job `user` enqueues (before it is enqueued); TooManyJobs past the limits."""
        owner = f"{task_name}:{user}"
        if self.limits.rate is not None:
            try:
                self.limits.rate.check(owner)
            except TooManyAttempts as exc:
                raise TooManyJobs(exc.description, exc.retry_after) from None
        if not self.storage.admit(owner, job_id, self.limits.per_user, time.time() - PENDING_MAX_AGE):
            raise TooManyJobs(f"You already have {self.limits.per_user} of these waiting or running; "
                              f"wait for one to finish.", 5)

    def settle(self, task, user: int | None) -> None:
        """The job left the queue for good (done or failed): its user may enqueue another."""
        if user is not None:
            self.storage.settle(f"{_task_name(task)}:{user}", task.id)

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
            if getattr(task, "_final", False):
                self.settle(task, task.kwargs.get(USER_KEY))

    def _interrupted(self, signal: str, task) -> None:
        task._interrupted = True

    def _report(self, task, value: Any, exception: BaseException | None) -> None:
        user = task.kwargs.get(USER_KEY)
        task._final = exception is None or not task.retries
        if exception is None:
            data = {"id": task.id, "task": _label(task), "result": value}  # the pusher makes it JSON
            if isinstance(value, dict) and isinstance(value.get("message"), str):
                data["message"] = value["message"]
            self.push(user, "job.done", data)
            return
        if task.retries:  # huey runs it again
            log.warning("job %s (%s) failed, %d retries left: %r", task.id, _label(task), task.retries, exception)
            return
        given_up = isinstance(exception, JobError)
        error = str(exception) if given_up else \
            f"{type(exception).__name__}: the job failed; the worker's log has the details (job {task.id})."
        # The arguments are kept only where a retry could succeed: a JobError would fail
        # again, and a task may hold a user's whole upload (keep_failed=False).
        keep = not given_up and getattr(type(task), "keep_failed", True)
        self.put(FAILED_PREFIX + task.id, {
            "task": _label(task), "error": error, "detail": repr(exception)[:1000], "user": user,
            "failed_at": _now(), "failed_ts": time.time(),
            "message": self._registry.create_message(task) if keep else None})
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
        """The failed jobs by id, those past JOBS.FAILED_DAYS deleted on the way."""
        found = {}
        oldest = time.time() - self.limits.failed_seconds
        for key, raw in self.storage.result_items().items():
            key = key.decode() if isinstance(key, bytes) else key
            if key.startswith(FAILED_PREFIX):
                record = self.serializer.deserialize(raw)
                if record.get("failed_ts", _parsed_ts(record.get("failed_at"))) < oldest:
                    self.storage.pop_data(key)
                    continue
                found[key[len(FAILED_PREFIX):]] = record
        return found

    def expire_failed(self) -> int:
        """Delete the failed jobs past JOBS.FAILED_DAYS; how many are left."""
        return len(self.failed())

    def retry_failed(self, job_id: str) -> str:
        """Enqueue a failed job again, with its task's retries; its id. KeyError: no such failed job."""
        record = self.get(FAILED_PREFIX + job_id, peek=True)
        if record is None:
            raise KeyError(job_id)
        if record.get("message") is None:
            raise ValueError(f"job {job_id} cannot be retried (its arguments were not kept): {record['error']}")
        self.register_all()
        task = self._registry.create_task(record["message"])
        task.retries = type(task).default_retries
        self.enqueue(task)
        self.delete(FAILED_PREFIX + job_id)
        return task.id


def _label(task) -> str:
    return type(task).__name__


def _task_name(task) -> str:
    function = getattr(type(task), "_job_function_name", None)
    return function or _label(task)


def _parsed_ts(text: str | None) -> float:
    try:
        return datetime.datetime.fromisoformat(text).timestamp() if text else 0.0
    except ValueError:
        return 0.0


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


def user_limits(settings) -> UserLimits:
    jobs = settings.server.JOBS
    rate = None
    if jobs.USER_RATE:
        counters = Counters(*limits_storage(settings))
        rate = RateLimiter(counters, f"{settings.key_namespace}:limits:jobs", jobs.USER_RATE,
                           "You started too many of these; wait a minute and try again.")
    return UserLimits(per_user=jobs.PER_USER, rate=rate, failed_seconds=jobs.FAILED_DAYS * 86400.0)


def build_queue(settings) -> JobQueue:
    jobs = settings.server.JOBS
    limits = user_limits(settings)
    if storage_kind(settings) == "redis":
        import redis

        timeout = settings.redis.TIMEOUT
        # The socket timeout outlasts BLMOVE's one-second wait for a job.
        pool = redis.ConnectionPool.from_url(redis_url(settings), socket_connect_timeout=timeout,
                                             socket_timeout=timeout + 2, health_check_interval=30)
        queue = JobQueue(settings.key_namespace, jobs.LEASE, limits, storage_class=ClaimingRedisStorage,
                         connection_pool=pool, read_timeout=1)
    else:
        path = settings.instance_path / jobs.FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            # Job arguments are users' data: readable by the app's user only, like the database.
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        queue = JobQueue(settings.key_namespace, jobs.LEASE, limits, storage_class=ClaimingSqliteStorage,
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
