"""A scratch copy of the project, for tests that change its files (add a feature,
remove the demo) without touching the checkout."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import requests

from tests.conftest import REPO_ROOT

IGNORED = shutil.ignore_patterns(".git", ".venv", ".venv-*", "instance", "node_modules", "__pycache__",
                                 ".pytest_cache", ".ruff_cache", "*.egg-info", ".env")


def scratch_copy(destination: Path) -> Path:
    """Copy the checkout (without its virtualenv, state and caches) to `destination`."""
    shutil.copytree(REPO_ROOT, destination, ignore=IGNORED, symlinks=True)
    modules = REPO_ROOT / "tests" / "js" / "node_modules"
    if modules.is_dir():  # the npm socket.io-client, installed once
        (destination / "tests" / "js" / "node_modules").symlink_to(modules)
    return destination


def edit(path: Path, old: str, new: str) -> None:
    """Replace `old` (which must be there) with `new` in the file, as an editor saves it."""
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new))


def served_within(url: str, predicate: Callable[[requests.Response], bool], seconds: float) -> float | None:
    """Seconds until GET url answers so that predicate(response) holds, or None past `seconds`."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        try:
            response = requests.get(url, timeout=2)
            if predicate(response):
                return time.monotonic() - started
        except requests.RequestException:
            pass
        time.sleep(0.05)
    return None
