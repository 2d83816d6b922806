"""The consumer: huey's, with heartbeats, recovery of abandoned jobs and a graceful stop.

Used by `flask jobs worker` (threads, its own process) and by the consumer
inside the app (embedded.py: greenlets in a gunicorn worker).

Every second the scheduler (huey's thread that moves due jobs to the queue)
also beats this consumer's heartbeat every LEASE/3 seconds, puts back the jobs
of consumers silent for LEASE seconds, and enqueues due periodic tasks; every
few minutes it deletes the failed jobs older than JOBS.FAILED_DAYS.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from pathlib import Path

from huey.consumer import Consumer, Scheduler
from huey.storage import SqliteStorage

from flask_keel.jobs.queue import EXPIRE_EVERY, JobQueue

log = logging.getLogger("flask_keel.jobs")


class JobScheduler(Scheduler):
    # Periodic tasks are checked every tick: each period is claimed once in storage,
    # so checking often costs nothing twice and lets `every=` go below a minute.
    periodic_task_seconds = 1

    def loop(self, now=None):
        consumer: JobConsumer = self.huey.consumer
        consumer.keep_alive()
        super().loop(now)


class JobConsumer(Consumer):
    scheduler_class = JobScheduler

    def __init__(self, queue: JobQueue, *, embedded: bool, heartbeat_file: Path | None = None, **options):
        self.embedded = embedded
        self.heartbeat_file = heartbeat_file
        self.id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        queue.storage.consumer_id = self.id
        queue.consumer = self
        queue.register_all()
        self._last_beat = 0.0
        self._last_expiry = 0.0
        # SQLite is polled: at most half a second between looks. Redis wakes it at once.
        options.setdefault("max_delay", 0.5 if isinstance(queue.storage, SqliteStorage) else 10.0)
        super().__init__(queue, periodic=True, scheduler_interval=1, **options)

    def keep_alive(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_beat < max(self.huey.lease / 3, 0.5):
            return
        self._last_beat = now
        storage = self.huey.storage
        try:
            storage.beat()
            moved = storage.recover(self.huey.lease)
        except Exception:  # noqa: BLE001 - storage down: the next beat tries again
            log.exception("job storage heartbeat failed")
            return
        if moved:
            log.warning("put back %d job(s) that a stopped consumer had taken", moved)
        if now - self._last_expiry >= EXPIRE_EVERY:
            self._last_expiry = now
            try:
                self.huey.expire_failed()
            except Exception:  # noqa: BLE001 - tried again at the next expiry
                log.exception("could not delete expired failed jobs")
        if self.heartbeat_file is not None:
            self.heartbeat_file.touch()

    def start(self):
        # Registered (and any abandoned jobs back in the queue) before taking one.
        self.keep_alive(force=True)
        super().start()

    def _set_signal_handlers(self):
        # Inside a gunicorn worker, gunicorn owns the signals (embedded.py watches it instead).
        if not self.embedded:
            super()._set_signal_handlers()

    def finish(self) -> None:
        """After stopping: jobs still claimed (a task that did not finish in time) go back."""
        moved = self.huey.storage.release()
        if moved:
            log.warning("put back %d unfinished job(s) for the next consumer", moved)
        if self.heartbeat_file is not None:
            self.heartbeat_file.unlink(missing_ok=True)
