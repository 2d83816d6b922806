"""The entrypoint's wait step: bounded, readable, and naming what never answered."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import yaml

from flask_keel.testing import free_port
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.integration


def run_wait(tmp_path, config: dict, timeout: str) -> tuple[subprocess.CompletedProcess, float]:
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(config))
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "app", "wait-for-services", "--timeout", timeout],
                            cwd=REPO_ROOT, env={**os.environ, "APP_CONFIG": str(path)}, capture_output=True,
                            text=True, timeout=60)
    return result, time.monotonic() - started


def test_an_unreachable_database_fails_in_bounded_time_naming_host_and_port(tmp_path):
    dead = free_port()
    result, elapsed = run_wait(tmp_path, {
        "SERVER_ENV": {"INSTANCE_PATH": str(tmp_path)},
        "DATABASE": {"main": {"driver": "mysql+pymysql", "address": "127.0.0.1", "port": dead, "user": "root",
                              "database": "test"}},
    }, "3")
    assert result.returncode == 1
    assert f"waiting for database main at 127.0.0.1:{dead} (attempt 1" in result.stderr
    assert f"error: database main at 127.0.0.1:{dead} did not answer within 3s" in result.stderr
    assert elapsed < 15


def test_everything_up_is_reported_and_exits_0(tmp_path, mariadb, redis_server, memcached_server):
    from flask_keel.testing import redis_entry

    result, _ = run_wait(tmp_path, {
        "SERVER_ENV": {"INSTANCE_PATH": str(tmp_path)},
        "DATABASE": {"main": {"driver": "mysql+pymysql", "address": mariadb[0], "port": mariadb[1],
                              "user": "root", "database": "test"}},
        "SERVICES": {"redis": redis_entry(redis_server),  # TEST_REDIS_PORT and TEST_REDIS_DB
                     "memcached": {"HOST": "127.0.0.1", "PORT": memcached_server[1]}},
    }, "10")
    assert result.returncode == 0, result.stderr
    # The ports the suite was given (TEST_*_PORT, what scripts/provision prints), not the defaults.
    for line in (f"database main at 127.0.0.1:{mariadb[1]} is up", f"redis at 127.0.0.1:{redis_server[1]} is up",
                 f"memcached at 127.0.0.1:{memcached_server[1]} is up", "all services answer"):
        assert line in result.stderr
