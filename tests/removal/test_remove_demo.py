"""`python -m app feature remove school` in a copy of the project: the demo goes, whole,
and what remains (signup, login, the dashboard, Socket.IO) passes its own suite.

Not part of `make test` (it runs that suite again, in the copy): `make test-removal`,
which CI runs.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.scratch import scratch_copy

pytestmark = pytest.mark.removal

DEMO = "school"


def test_removing_the_demo_leaves_a_working_app_and_a_green_suite(tmp_path):
    root = scratch_copy(tmp_path / "project")
    removed = subprocess.run([sys.executable, "-m", "app", "feature", "remove", DEMO], cwd=root, text=True,
                             capture_output=True, timeout=120, env={**os.environ, "APP_ROOT": str(root)})
    assert removed.returncode == 0, removed.stderr
    for path in ("Controllers/school", "Models/Persistent/school.py", "Models/Forms/school.py", "template/school",
                 "static/school", "tests/school"):
        assert not (root / path).exists(), path
    # Nothing that runs still refers to it (comments and docs may still say it existed).
    uses = re.compile(rf"^\s*(from|import)\s.*\b{DEMO}\b|\b{DEMO}\.\w|(up|down)grade_{DEMO}\b|['\"]{DEMO}[./]")
    for folder in ("Server", "Controllers", "Models", "template", "static", "migrations/versions", "config"):
        for path in (root / folder).rglob("*"):
            if path.is_file() and path.suffix in (".py", ".html", ".js", ".yml"):
                code = [line for line in path.read_text().splitlines() if not line.lstrip().startswith(("#", "//"))]
                assert not [line for line in code if uses.search(line)], path
    assert '"tests/school"' not in (root / "pyproject.toml").read_text()

    # What remains: its own suite, end to end (browser included). Tests that run on
    # tests/fixture_project only never load the project's code, so `make test` has
    # already run them exactly as they would run here.
    suite = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x",
                            "-m", "not fixture_project"], cwd=root,
                           text=True, capture_output=True, timeout=1500,
                           env={**os.environ, "APP_ROOT": str(root)})
    assert suite.returncode == 0, suite.stdout[-5000:] + suite.stderr[-2000:]
    assert re.search(r"\d+ passed", suite.stdout)
