"""The task API Controllers use: `@task`, `@periodic_task`, `progress()`, `JobError`.

    from flask_keel.jobs import JobError, progress, task

    @task(retries=2)
    def send_report(course_id: int) -> dict:
        progress(50, "Half way")
        return {"message": "Report sent."}

    job_id = send_report(course_id)        # enqueued for the signed-in user

Calling a task enqueues it and returns the job's id; the signed-in user (in a
view, a named request or a socket handler) travels with the job, so
`progress()` and the result reach that user's sockets. What a user enqueues
is bounded (JOBS.PER_USER waiting or running per task, JOBS.USER_RATE):
past either, the call raises TooManyJobs, a 429 with Retry-After. A CLI command names the
user: `send_report.enqueue_for(user_or_id, course_id)`. `send_report.run(...)`
calls the function here and now (tests, the shell).

Tasks are defined once, at import, with no app: each app's queue registers
them when it is built (flask_keel/jobs/queue.py), so one process may hold several apps.
"""

from __future__ import annotations

import datetime
import functools
import time
from collections.abc import Callable
from typing import Any

from huey import crontab

from flask_keel.db import db

# What a job is (its id, its user, the context it runs in) belongs to the queue that
# runs it; the task API is built on top of it, and re-exports what Controllers use.
from flask_keel.jobs.queue import DEFINED, USER_KEY, JobError, TooManyJobs, jobs_of, running_job


def pause() -> None:
    """Let the requests this process serves run. The consumer inside `python -m app serve`
    runs jobs as greenlets beside the requests, and a greenlet runs until it waits: a
    long task calls this (or `progress()`) between steps of a few milliseconds each."""
    time.sleep(0)  # gevent's sleep under its patching: back to the hub, which serves what is ready


def progress(percent: float, message: str = "") -> None:
    """Push "job.progress" {id, task, percent, text} to the user who enqueued this job
    (and pause()). Outside a job (a test calling `.run()`) it does nothing.
    """
    job = running_job()
    if job is None:
        return
    pause()
    percent = max(0.0, min(100.0, float(percent)))
    job.queue.push(job.user, "job.progress",
                   {"id": job.id, "task": job.name, "percent": percent, "text": message})


class JobFunction:
    """A task: call it to enqueue, `.run()` to call the function directly."""

    def __init__(self, func: Callable[..., Any], options: dict[str, Any], schedule: Any = None):
        functools.update_wrapper(self, func)
        self.func = func
        self.name = f"{func.__module__}.{func.__name__}"
        self.options = options
        self.schedule = schedule
        DEFINED[self.name] = self

    def __call__(self, *args: Any, **kwargs: Any) -> str:
        """Enqueue for the signed-in user, within their limits (TooManyJobs past them)."""
        return self._enqueue(_signed_in_user(), args, kwargs, limited=True)

    def enqueue_for(self, user: Any, *args: Any, **kwargs: Any) -> str:
        """Enqueue for a user (object or id; None: nobody is told); the job's id. Not
        limited: for the app's own code (a CLI command), not for what a user asks."""
        return self._enqueue(user, args, kwargs, limited=False)

    def _enqueue(self, user: Any, args: tuple, kwargs: dict[str, Any], limited: bool) -> str:
        queue = jobs_of()
        user_id = getattr(user, "id", user)
        job = queue.wrapper(self).s(*args, **kwargs, **{USER_KEY: user_id})
        if user_id is not None:
            if limited:
                queue.admit(self.name, user_id, job.id)
            else:
                queue.storage.admit(f"{self.name}:{user_id}", job.id, None, 0)
        try:
            queue.enqueue(job)
        except Exception:
            queue.settle(job, user_id)
            raise
        return job.id

    def run(self, *args: Any, **kwargs: Any) -> Any:
        return self.func(*args, **kwargs)

    def runner(self) -> Callable[..., Any]:
        """The function huey registers: drops the user kwarg, calls ours (app context and
        job context are set around it by JobQueue.execute)."""
        func = self.func

        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            kwargs.pop(USER_KEY, None)
            try:
                return func(*args, **kwargs)
            finally:
                # Its transaction ends here, before the result is pushed (a push may wait on a
                # socket, and an open transaction would hold its database locks meanwhile).
                db.session.remove()

        return run

    def due(self, timestamp: datetime.datetime) -> int | None:
        """For a periodic task: the period `timestamp` falls in when the task is due then, else None.

        A period is a number that grows with time; each is run once, by one consumer,
        however many consumers check it (JobQueue.read_periodic).
        """
        epoch = timestamp.replace(tzinfo=datetime.UTC).timestamp()
        if isinstance(self.schedule, (int, float)):
            return int(epoch // self.schedule)
        return int(epoch // 60) if self.schedule(timestamp) else None


def task(retries: int = 0, retry_delay: float = 0, timeout: float | None = None, keep_failed: bool = True,
         **options: Any):
    """Make a function a background task. `retries`: runs again this many times after an
    exception (JobError excepted), `retry_delay` seconds apart; `timeout`: seconds.
    `keep_failed=False`: a failed job keeps its error but not its arguments (a user's
    upload), so `flask jobs retry` cannot run it again."""

    def decorate(func: Callable[..., Any]) -> JobFunction:
        return JobFunction(func, {"retries": retries, "retry_delay": retry_delay, "timeout": timeout,
                                  "keep_failed": keep_failed, **options})

    return decorate


def periodic_task(every: float | datetime.timedelta | Callable[[datetime.datetime], bool], **options: Any):
    """Run a function on a schedule: every N seconds (a number or timedelta), or on a
    huey `crontab(minute="0", hour="3")` (UTC). Once per period across all consumers."""
    if isinstance(every, datetime.timedelta):
        every = every.total_seconds()
    if isinstance(every, (int, float)) and every < 1:
        raise ValueError("periodic_task: every must be at least 1 second")

    def decorate(func: Callable[..., Any]) -> JobFunction:
        return JobFunction(func, options, schedule=every)

    return decorate


def _signed_in_user() -> int | None:
    from flask import has_request_context

    if not has_request_context():
        return None
    from flask_keel.auth import current_user

    return current_user.id if current_user.is_authenticated else None


__all__ = ["JobError", "JobFunction", "TooManyJobs", "crontab", "pause", "periodic_task", "progress", "running_job",
           "task"]
