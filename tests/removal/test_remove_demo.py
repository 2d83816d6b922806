"""`python -m app feature remove school` in a copy of the project: the demo goes, whole,
and what remains passes its suite: the project's own (signup, login, the dashboard,
the manifests, and the README's walk-through, replayed on SQLite and on MariaDB
with the user's test of the feature run), then the framework's tests that run on
the project (those on packages/flask-keel/tests/fixture_project never load it, so
`make test-framework` has already run them exactly as they would run here).

Not part of `make test` (it runs those suites again, in the copy): `make
test-removal`, which CI runs.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from flask_keel.testing import scratch_copy
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.removal

DEMO = "school"


# .ci/run runs this beside other stages and the latency budgets (marked `timing`) alone,
# after: on the checkout, where they test the same code.
DEFER_TIMING = os.environ.get("CI_DEFER_TIMING") == "1"


def run_suite(cwd: Path, root: Path, report: Path, *args: str, marks: str = "") -> ElementTree.Element:
    """pytest in `cwd` of the copy, on tests matching `marks`; it must pass. Its JUnit report."""
    marks = " and ".join(mark for mark in (marks, "not timing" if DEFER_TIMING else "") if mark)
    suite = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x",
                            f"--junitxml={report}", *(["-m", marks] if marks else []), *args], cwd=cwd,
                           text=True, capture_output=True,
                           timeout=1500, env={**os.environ, "APP_ROOT": str(root)})
    assert suite.returncode == 0, suite.stdout[-5000:] + suite.stderr[-2000:]
    assert re.search(r"\d+ passed", suite.stdout)
    return ElementTree.parse(report).getroot()


def passed(report: ElementTree.Element) -> set[str]:
    return {f"{case.get('classname')}.{case.get('name')}" for case in report.iter("testcase")
            if not any(child.tag in ("failure", "error", "skipped") for child in case)}


def test_removing_the_demo_leaves_a_working_app_and_a_green_suite(tmp_path):
    root = scratch_copy(REPO_ROOT, tmp_path / "project")
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

    # What remains: the project's suite, end to end (browser included), as `make test` runs it.
    project = passed(run_suite(root, root, tmp_path / "project.xml"))
    assert not [name for name in project if name.startswith("tests.school")]
    # The README's walk-through, replayed on the project without the demo, on both
    # databases, the user's test of the feature included.
    for backend in ("sqlite", "mariadb"):
        assert (f"tests.test_add_a_feature.test_the_readme_walk_through_adds_a_working_feature[{backend}]"
                in project), sorted(project)

    # The framework's tests that run on the project, on the project without the demo
    # (the npm socket.io-client they drive, installed once, shared with the checkout's).
    modules = REPO_ROOT / "packages" / "flask-keel" / "tests" / "js" / "node_modules"
    if modules.is_dir():
        (root / "packages" / "flask-keel" / "tests" / "js" / "node_modules").symlink_to(modules)
    # (test_template_update clones the checkout's git history, which a scratch copy has not:
    # `make test-framework` runs it on the checkout; it does not load the project's code.)
    framework = passed(run_suite(root / "packages" / "flask-keel", root, tmp_path / "framework.xml",
                                 "--ignore=tests/integration/test_template_update.py", marks="not fixture_project"))
    assert len(framework) > 50, sorted(framework)
