"""PROMETHEUS_MULTIPROC_DIR naming a missing folder: a command that builds the app still runs
(the folder is made) or says in one line what is wrong, never a traceback (issue 28)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.integration


def app_command(*args: str, multiproc_dir: str) -> subprocess.CompletedProcess[str]:
    environ = {key: value for key, value in os.environ.items() if not key.startswith(("APP_", "DB_", "REDIS_"))}
    environ["PROMETHEUS_MULTIPROC_DIR"] = multiproc_dir
    return subprocess.run([sys.executable, "-m", "app", *args], capture_output=True, text=True, env=environ,
                          cwd=REPO_ROOT, timeout=60)


def test_a_missing_folder_is_made_and_the_command_runs(tmp_path):
    folder = tmp_path / "not" / "yet" / "metrics"
    result = app_command("routes", multiproc_dir=str(folder))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "/healthz" in result.stdout
    assert folder.is_dir() and (folder.stat().st_mode & 0o777) == 0o700


def test_a_folder_that_cannot_be_made_is_one_line_naming_it(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = app_command("routes", multiproc_dir=str(blocker / "metrics"))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if "PROMETHEUS_MULTIPROC_DIR" in line]
    assert len(lines) == 1 and f"{blocker}/metrics" in lines[0], result.stderr
