"""`flask jobs worker | list | retry ID | alive`: run and inspect background jobs."""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

jobs_group = AppGroup("jobs", help="Background jobs: run a consumer, list and retry jobs.")

DEFAULT_HEARTBEAT = "jobs-worker.alive"


@jobs_group.command("worker")
@click.option("--concurrency", "-c", type=click.IntRange(min=1), default=None,
              help="Tasks run at once (default: SERVER_ENV.JOBS.CONCURRENCY).")
@click.option("--heartbeat-file", type=click.Path(dir_okay=False), default=None,
              help=f"Touched while the consumer is healthy (default: INSTANCE_PATH/{DEFAULT_HEARTBEAT}).")
def worker_command(concurrency: int | None, heartbeat_file: str | None) -> None:
    """Run a consumer until SIGTERM or Ctrl-C.

    SIGTERM (or SIGINT) stops taking jobs and lets the running ones finish within
    SERVER_ENV.GRACEFUL_TIMEOUT; a job still running then goes back to the queue.
    """
    from flask_keel.extensions import current_settings
    from flask_keel.jobs.consumer import JobConsumer
    from flask_keel.jobs.queue import jobs_of, storage_kind
    from flask_keel.realtime import emitter

    settings = current_settings()
    logging.getLogger("huey").setLevel(logging.INFO)
    queue = jobs_of(current_app)
    try:
        sender = emitter(settings)
        queue.pusher = sender.notify
    except RuntimeError:
        click.echo("warning: no SERVICES.redis: this worker cannot push progress or results to browsers "
                   "(run jobs inside `python -m app serve` instead: JOBS.CONSUMER app)", err=True)
    beat = Path(heartbeat_file) if heartbeat_file else settings.instance_path / DEFAULT_HEARTBEAT
    beat.parent.mkdir(parents=True, exist_ok=True)
    jobs = settings.server.JOBS
    consumer = JobConsumer(queue, embedded=False, heartbeat_file=beat, workers=concurrency or jobs.CONCURRENCY,
                           worker_type="thread", graceful_signal="TERM",
                           shutdown_timeout=settings.server.GRACEFUL_TIMEOUT)
    click.echo(f"jobs worker {consumer.id}: {storage_kind(settings)} storage, "
               f"{consumer.workers} at once, tasks: {', '.join(sorted(queue._wrappers)) or 'none'}", err=True)
    try:
        consumer.run()
    finally:
        consumer.finish()


@jobs_group.command("list")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True,
              help="At most this many per state.")
def list_command(limit: int) -> None:
    """Jobs queued (and scheduled), running, and failed, one line each: ID STATE TASK USER DETAIL."""
    from flask_keel.jobs.queue import USER_KEY, jobs_of

    queue = jobs_of(current_app)
    rows: list[tuple[str, str, str, str, str]] = []

    def describe(task, state: str, detail: str) -> None:
        rows.append((task.id, state, type(task).__name__, str(task.kwargs.get(USER_KEY, "-")), detail))

    for task in queue.pending(limit):
        describe(task, "queued", "")
    for task in queue.scheduled(limit):
        describe(task, "scheduled", f"at {task.eta:%Y-%m-%d %H:%M:%S} UTC" if task.eta else "")
    for consumer, data, _seen in queue.storage.claimed_items()[:limit]:
        try:
            describe(queue.deserialize_task(data), "running", f"on {consumer}")
        except Exception as exc:  # noqa: BLE001 - listed, not fatal
            rows.append(("?", "running", "?", "-", f"unreadable: {exc}"))
    for job_id, record in list(queue.failed().items())[:limit]:
        rows.append((job_id, "failed", record["task"], str(record.get("user") or "-"),
                     f"{record['failed_at']} {record['error']}"))
    if not rows:
        click.echo("no jobs")
        return
    for row in rows:
        click.echo("  ".join(row).rstrip())


@jobs_group.command("retry")
@click.argument("job_id")
def retry_command(job_id: str) -> None:
    """Enqueue the failed job JOB_ID again (with its task's retries)."""
    from flask_keel.jobs.queue import jobs_of

    queue = jobs_of(current_app)
    try:
        new_id = queue.retry_failed(job_id)
    except KeyError:
        click.echo(f"error: no failed job {job_id} (`flask jobs list` shows them)", err=True)
        sys.exit(1)
    except ValueError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(f"queued {new_id} again")


@jobs_group.command("alive", with_appcontext=False)
@click.option("--max-age", type=click.IntRange(min=1), default=None,
              help="Seconds the heartbeat may be old (default: SERVER_ENV.JOBS.LEASE).")
@click.option("--heartbeat-file", type=click.Path(dir_okay=False), default=None)
def alive_command(max_age: int | None, heartbeat_file: str | None) -> None:
    """Exit 0 when a `jobs worker` here beat recently (a container healthcheck); reads no app."""
    from flask_keel.cli.common import settings_or_exit

    settings = settings_or_exit()
    path = Path(heartbeat_file) if heartbeat_file else settings.instance_path / DEFAULT_HEARTBEAT
    limit = max_age or settings.server.JOBS.LEASE
    try:
        age = time.time() - os.stat(path).st_mtime
    except FileNotFoundError:
        click.echo(f"no heartbeat at {path}", err=True)
        sys.exit(1)
    if age > limit:
        click.echo(f"heartbeat {age:.0f}s old (over {limit}s)", err=True)
        sys.exit(1)
    click.echo(f"alive ({age:.0f}s ago)")
