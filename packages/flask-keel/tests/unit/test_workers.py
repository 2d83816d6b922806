"""How many gunicorn workers an instance runs (flask_keel/workers.py): one per CPU the
process may use when Socket.IO can span processes, else one, with the reason."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from flask_keel import workers
from flask_keel.config import load_settings
from flask_keel.workers import available_cpus, worker_processes

AFFINITY = len(os.sched_getaffinity(0))


def cgroup(tmp_path: Path, v2: str | None = None, v1: tuple[int, int] | None = None) -> Path:
    """A cgroup folder as the kernel shows it: v2's cpu.max, or v1's cfs files."""
    root = tmp_path / "cgroup"
    root.mkdir()
    if v2 is not None:
        (root / "cpu.max").write_text(v2 + "\n")
    if v1 is not None:
        (root / "cpu").mkdir()
        (root / "cpu" / "cpu.cfs_quota_us").write_text(f"{v1[0]}\n")
        (root / "cpu" / "cpu.cfs_period_us").write_text(f"{v1[1]}\n")
    return root


@pytest.mark.parametrize(("v2", "v1", "expected"), [
    (None, None, AFFINITY),                     # no cgroup files: the affinity
    ("max 100000", None, AFFINITY),             # v2, unlimited
    ("100000 100000", None, 1),                 # v2, one CPU
    ("150000 100000", None, min(2, AFFINITY)),  # 1.5 CPUs round up, never above the affinity
    ("5000 100000", None, 1),                   # a twentieth of a CPU is still one worker
    (None, (-1, 100000), AFFINITY),             # v1, unlimited
    (None, (100000, 100000), 1),                # v1, one CPU
    ("garbage", (100000, 100000), 1),           # an unreadable v2 file falls back to v1
])
def test_cpus_count_the_affinity_and_the_cgroup_quota(tmp_path, v2, v1, expected):
    assert available_cpus(cgroup(tmp_path, v2, v1)) == expected


def test_a_quota_above_the_affinity_does_not_add_cpus(tmp_path):
    assert available_cpus(cgroup(tmp_path, f"{(AFFINITY + 8) * 100000} 100000")) == AFFINITY


def settings(tmp_path: Path, server: str = "{}", redis: bool = True):
    path = tmp_path / "config.yml"
    path.write_text(f"SERVER_ENV: {server}\nSERVICES: {{redis: {{HOST: {'r' if redis else repr('')}}}}}\n")
    return load_settings(path, environ={})


def test_auto_is_one_per_cpu_with_websockets_and_a_message_queue(tmp_path, monkeypatch):
    monkeypatch.setattr(workers, "CGROUP", cgroup(tmp_path, "300000 100000"))
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(8)))
    count, reason = worker_processes(settings(tmp_path))
    assert count == 3
    assert reason == "3 workers, one per CPU available (WEB_CONCURRENCY overrides)"


def test_auto_is_one_without_a_message_queue_and_says_why(tmp_path):
    count, reason = worker_processes(settings(tmp_path, redis=False))
    assert count == 1
    assert reason.startswith("1 worker: Socket.IO has no message queue (SERVICES.redis)")


def test_auto_is_one_with_long_polling_and_says_why(tmp_path):
    count, reason = worker_processes(settings(tmp_path, "{SOCKETIO_POLLING: true}"))
    assert count == 1
    assert "long-polling is allowed (SERVER_ENV.SOCKETIO_POLLING)" in reason


def test_a_number_overrides_auto(tmp_path):
    assert worker_processes(settings(tmp_path, "{PROCESSES: 5}")) == (
        5, "5 workers: SERVER_ENV.PROCESSES (WEB_CONCURRENCY) is 5")


@pytest.mark.parametrize(("server", "engine", "expected"), [
    ("{PROCESSES: 1}", "{}", 40),              # one worker keeps the instance's 40
    ("{PROCESSES: 4}", "{}", 10),              # four share them: an instance still holds 40
    ("{PROCESSES: 16}", "{}", 8),              # never below 8 per worker
    ("{PROCESSES: 4}", "{pool_size: 5}", 5),   # the user's own pool_size is kept as given
])
def test_the_mysql_pool_is_shared_out_between_workers(tmp_path, server, engine, expected):
    from flask_keel.db.engines import create_database_engine

    path = tmp_path / "config.yml"
    path.write_text(f"SERVER_ENV: {server}\nSERVICES: {{redis: {{HOST: r}}}}\n"
                    f"DATABASE: {{main: {{driver: mysql+pymysql, address: db.invalid, engine: {engine}}}}}\n")
    settings = load_settings(path, environ={})
    engine_ = create_database_engine("main", settings.databases["main"], settings)  # connects on first use only
    assert engine_.pool.size() == expected


@pytest.mark.parametrize(("server", "redis", "cpus", "handler"), [
    ("{}", False, 4, "RotatingFileHandler"),                # auto without a queue: one worker rotates its file
    ("{}", True, 4, "WatchedFileHandler"),                  # auto, four workers: append, rotated outside
    ("{}", True, 1, "RotatingFileHandler"),                 # auto on one CPU: one worker
    ("{PROCESSES: 3}", True, 1, "WatchedFileHandler"),      # a number counts as given
])
def test_the_log_file_rotates_itself_only_with_one_worker(tmp_path, monkeypatch, server, redis, cpus, handler):
    import logging

    from flask_keel.logs import configure_logging

    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(cpus)))
    monkeypatch.setattr(workers, "CGROUP", tmp_path / "no-cgroup")
    path = tmp_path / "config.yml"
    server_env = server.strip("{}")
    path.write_text(f"SERVER_ENV: {{LOG: {{DIR: '{tmp_path / 'logs'}'}}{', ' + server_env if server_env else ''}}}\n"
                    f"SERVICES: {{redis: {{HOST: {'r' if redis else repr('')}}}}}\n")
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    try:
        configure_logging(load_settings(path, environ={}))
        added = [h for h in root.handlers if h not in before]
        assert [type(h).__name__ for h in added] == [handler]
    finally:
        for h in root.handlers[:]:
            if h not in before:
                root.removeHandler(h)
                h.close()
        for h in before:
            if h not in root.handlers:
                root.addHandler(h)
        root.setLevel(level)
