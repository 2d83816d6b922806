"""How many gunicorn worker processes to run, and why.

One gevent worker per CPU the process may use, when Socket.IO can span
processes: clients on the websocket transport (each socket lives on one
process, so no sticky routing is needed) and a message queue (SERVICES.redis)
carrying every emit to every process. Otherwise one worker, because:

- without a message queue, an event emitted in one process would never reach
  the sockets held by another;
- with long-polling allowed (SERVER_ENV.SOCKETIO_POLLING), each of a client's
  requests must reach the process that holds its session, which several
  workers behind one port cannot promise.

"CPUs the process may use" counts the CPU affinity and the cgroup's CPU quota
(a container limited to 1.5 CPUs gets 2 workers, not one per host core).
SERVER_ENV.PROCESSES (WEB_CONCURRENCY) set to a number overrides the count;
more than one where Socket.IO cannot span processes is a config error.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

from flask_keel.services import redis_url

if TYPE_CHECKING:
    from flask_keel.config import Settings

CGROUP = Path("/sys/fs/cgroup")


def available_cpus(cgroup: Path | None = None) -> int:
    """CPUs this process may run on: its affinity, bounded by a cgroup CPU quota."""
    cgroup = cgroup or CGROUP
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    quota = _cgroup_quota(cgroup)
    if quota is not None:
        cpus = min(cpus, max(1, math.ceil(quota)))
    return max(1, cpus)


def _cgroup_quota(cgroup: Path) -> float | None:
    """The CPU quota in CPUs (cgroup v2 cpu.max, else v1 cfs_quota/period), None when unlimited."""
    try:
        quota, period = (cgroup / "cpu.max").read_text().split()[:2]  # v2: "max 100000" or "150000 100000"
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota_us = int((cgroup / "cpu" / "cpu.cfs_quota_us").read_text())
        period_us = int((cgroup / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return None if quota_us <= 0 or period_us <= 0 else quota_us / period_us


def single_process_reason(settings: Settings) -> str | None:
    """Why Socket.IO needs every client in one process, or None when it can span processes."""
    if settings.server.SOCKETIO_POLLING:
        return ("Socket.IO long-polling is allowed (SERVER_ENV.SOCKETIO_POLLING), and a polling client's "
                "requests must all reach the process that holds its session")
    if redis_url(settings) is None:
        return ("Socket.IO has no message queue (SERVICES.redis), so an event emitted in one process "
                "would not reach sockets held by another")
    return None


def worker_processes(settings: Settings) -> tuple[int, str]:
    """The number of worker processes, and a sentence saying why that many."""
    configured = settings.server.PROCESSES
    reason = single_process_reason(settings)
    if configured != "auto":
        return configured, (f"{configured} worker{'s' if configured > 1 else ''}: "
                            f"SERVER_ENV.PROCESSES (WEB_CONCURRENCY) is {configured}")
    if reason is not None:
        return 1, f"1 worker: {reason}"
    cpus = available_cpus()
    return cpus, f"{cpus} worker{'s' if cpus > 1 else ''}, one per CPU available (WEB_CONCURRENCY overrides)"
