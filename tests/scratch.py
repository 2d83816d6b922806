"""A scratch copy of the project, for tests that change its files (add a feature,
remove the demo) without touching the checkout."""

from __future__ import annotations

import shutil
from pathlib import Path

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
