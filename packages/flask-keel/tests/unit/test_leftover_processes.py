"""flask_keel.testing's plugin fails a run that leaves a process it started running, daemons
included, names it and ends it; a run that cleans up passes."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

LEAKY = '''
import subprocess


def test_starts_a_daemon_and_forgets_it():
    # Detached as `memcached -d` is: out of the process tree, into its own session.
    subprocess.Popen(["sleep", "{seconds}"], start_new_session=True)


def test_stops_what_it_starts():
    process = subprocess.Popen(["sleep", "{seconds}"])
    process.terminate()
    process.wait()
'''


def run_suite(tmp_path, keep: str) -> subprocess.CompletedProcess:
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["flask_keel.testing.plugin"]\n')
    (tmp_path / "test_leaky.py").write_text(LEAKY.format(seconds=keep))
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "forgets"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})


def sleeping(seconds: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and open(f"/proc/{entry}/cmdline", "rb").read() == f"sleep\0{seconds}\0".encode():
                found.append(int(entry))
        except OSError:
            pass
    return found


# Scans every process of the machine for its token: run alone in .ci/run (see the marker).
@pytest.mark.timing
def test_a_process_left_running_fails_the_run_and_is_ended(tmp_path):
    seconds = f"{600 + os.getpid() % 1000}.{time.monotonic_ns() % 1000}"  # a command line of this test only
    result = run_suite(tmp_path, seconds)
    assert result.returncode == 1, result.stdout[-3000:]
    assert "1 passed" in result.stdout and "left running" in result.stdout, result.stdout[-3000:]
    assert f"sleep {seconds}" in result.stdout
    assert sleeping(seconds) == []  # ended by the check, not left for the next run


def test_a_run_that_stops_what_it_starts_passes(tmp_path):
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["flask_keel.testing.plugin"]\n')
    (tmp_path / "test_leaky.py").write_text(LEAKY.format(seconds="601"))
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "stops"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "left running" not in result.stdout, result.stdout[-3000:]
