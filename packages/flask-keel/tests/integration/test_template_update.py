"""`python -m app template update` on a project made from a release, with no shared history.

Two releases are made of a scratch clone of this repository: v1.0.0 as it is, and v2.0.0
that changes the Dockerfile, a port line of docker-compose.yml, a line of .env.example
and fixes a bug in the framework. A project is copied from v1 as "Use this template"
copies it (a new repository, no history), then edited by its user.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[4]
FIX = "packages/flask-keel/src/flask_keel/passwords.py"
DEPLOYED = "deploy/kubernetes/base/service.yaml"
# A shipped file a project has no use for (it publishes the framework) and deletes.
UNWANTED = ".github/workflows/publish-framework.yml"
COMPOSE_PORT = '      - "${APP_BIND:-127.0.0.1}:${APP_PORT-4200}:4200"'


LOCKER_MODEL = """\
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from flask_keel.db import db


class Locker(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
"""


def git(cwd: Path, *args: str) -> str:
    environ = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
               "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}
    return subprocess.run(["git", *args], cwd=cwd, env=environ, capture_output=True, text=True, check=True).stdout


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def app_command(project: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """`python -m app ...` in a project, as its user runs it (no APP_ROOT or APP_CONFIG of ours)."""
    environ = {key: value for key, value in os.environ.items() if key not in ("APP_ROOT", "APP_CONFIG")}
    environ["PYTHONDONTWRITEBYTECODE"] = "1"
    result = subprocess.run([sys.executable, "-m", "app", *args], cwd=project, env=environ,
                            capture_output=True, text=True, timeout=120)
    assert not check or result.returncode == 0, result.stderr
    return result


def run_update(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return app_command(project, "template", "update", *args, check=False)


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".git" not in p.relative_to(root).parts}


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A scratch template with releases v1.0.0 and v2.0.0."""
    scratch = tmp_path_factory.mktemp("template") / "template"
    git(REPO_ROOT, "clone", "--quiet", "--no-hardlinks", str(REPO_ROOT), str(scratch))
    for tag in git(scratch, "tag", "--list").split():
        git(scratch, "tag", "-d", tag)
    assert 'version = "1.0.0"' in (scratch / "template-version.toml").read_text()
    git(scratch, "tag", "v1.0.0")
    edit(scratch / "Dockerfile", "ARG PYTHON_VERSION=3.11", "ARG PYTHON_VERSION=3.11\nARG TEMPLATE_V2=1")
    edit(scratch / "docker-compose.yml", COMPOSE_PORT, COMPOSE_PORT.replace("4200}:4200", "4300}:4200"))
    env_example = (scratch / ".env.example").read_text().splitlines()
    first = next(i for i, line in enumerate(env_example) if line.startswith("#") and len(line) > 10)
    env_example[first] += " (v2)"
    (scratch / ".env.example").write_text("\n".join(env_example) + "\n")
    (scratch / FIX).write_text((scratch / FIX).read_text() + "\n# fixed in v2\n")
    (scratch / DEPLOYED).write_text((scratch / DEPLOYED).read_text() + "# v2\n")
    (scratch / UNWANTED).write_text((scratch / UNWANTED).read_text() + "# v2\n")
    app_command(scratch, "template", "record")  # a release records its framework's files
    edit(scratch / "template-version.toml", 'version = "1.0.0"', 'version = "2.0.0"')
    git(scratch, "add", "-A")
    git(scratch, "commit", "--quiet", "-m", "v2")
    git(scratch, "tag", "v2.0.0")
    return scratch


def project_from(template: Path, where: Path) -> Path:
    """A project as "Use this template" makes it: the release's files in a new repository."""
    where.mkdir()
    archive = subprocess.run(["git", "archive", "v1.0.0"], cwd=template, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(where)], input=archive, check=True)
    git(where, "init", "--quiet")
    git(where, "add", "-A")
    git(where, "commit", "--quiet", "-m", "Initial commit")
    return where


def test_an_update_merges_the_template_and_keeps_the_project(template, tmp_path):
    project = project_from(template, tmp_path / "project")
    edit(project / "Controllers/core.py", '"""', '"""Edited by the project.\n', )
    # A feature of its own (not the README's rooms: the project's tests replay that one),
    # with the migration `db migrate` writes for its model.
    (project / "Models/Persistent/lockers.py").write_text(LOCKER_MODEL)
    app_command(project, "db", "upgrade")
    app_command(project, "db", "migrate", "-m", "add lockers")
    [migration] = (project / "migrations/versions").glob("0003_*.py")
    edit(project / "docker-compose.yml", COMPOSE_PORT, COMPOSE_PORT.replace("4200}:4200", "8080}:4200"))
    (project / UNWANTED).unlink()
    git(project, "add", "-A")
    git(project, "commit", "--quiet", "-m", "the project's work")
    own = {path: (project / path).read_bytes()
           for path in ("Controllers/core.py", "Models/Persistent/lockers.py", str(migration.relative_to(project)))}

    result = run_update(project, "--from", str(template))
    assert result.returncode == 0, result.stderr

    assert (project / FIX).read_text().endswith("# fixed in v2\n")  # the framework, whole
    assert "ARG TEMPLATE_V2=1" in (project / "Dockerfile").read_text()
    assert "(v2)" in (project / ".env.example").read_text()
    assert (project / DEPLOYED).read_text().endswith("# v2\n")
    assert {path: (project / path).read_bytes() for path in own} == own  # the project's own code
    assert not (project / UNWANTED).exists()  # deleted by the project: stays deleted, and is listed
    assert f"kept deleted (you removed it): {UNWANTED}" in result.stdout
    compose = (project / "docker-compose.yml").read_text()
    assert "<<<<<<< docker-compose.yml (yours)" in compose and "8080}:4200" in compose and "4300}:4200" in compose
    assert "docker-compose.yml" in result.stdout.split("conflicts")[1]
    assert "next: resolve them" in result.stdout
    assert 'version = "2.0.0"' in (project / "template-version.toml").read_text()

    # Resolved (the project's port kept), the project's config still loads and checks.
    lines = compose.splitlines()
    start = lines.index("<<<<<<< docker-compose.yml (yours)")
    middle = next(i for i in range(start, len(lines)) if lines[i].startswith("======="))
    end = next(i for i in range(middle, len(lines)) if lines[i].startswith(">>>>>>>"))
    ours = [line for line in lines[start + 1:middle] if not line.startswith("|||||||")]
    resolved = lines[:start] + ours + lines[end + 1:]
    (project / "docker-compose.yml").write_text("\n".join(resolved) + "\n")
    assert "<<<<<<<" not in (project / "docker-compose.yml").read_text()
    app_command(project, "config", "show")

    # The framework came whole: `make lint`'s check passes, and names a file once it is edited.
    assert "as released" in app_command(project, "template", "check").stdout
    (project / FIX).write_text((project / FIX).read_text() + "# a local edit\n")
    edited = app_command(project, "template", "check", check=False)
    assert edited.returncode == 1 and f"{FIX} (changed)" in edited.stderr
    (project / FIX).write_text((project / FIX).read_text().replace("# a local edit\n", ""))

    # The project's own `make test` passes on the updated, resolved project. Its virtualenvs
    # start as copies of this checkout's (make then installs the project's locks and builds
    # the framework's wheel from the project's own packages/flask-keel into them).
    for venv in (".venv", ".venv-checkov"):
        shutil.copytree(REPO_ROOT / venv, project / venv, symlinks=True)
    # A new shell's environment: make provisions the services and says where they are. The
    # Redis database is the user's choice (a shell may set it), as it is this run's.
    environ = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "CI", "TEST_REDIS_DB")
               if key in os.environ}
    # Its latency budgets (`timing`) are left out: they are the project's own suite's to hold,
    # on a quiet machine, and this one is busy running this suite.
    tested = subprocess.run(["make", "test", "PYTEST_ARGS=-p no:cacheprovider -q -m 'not timing'"], cwd=project,
                            env=environ, capture_output=True, text=True, timeout=900)
    assert tested.returncode == 0, tested.stdout[-3000:] + tested.stderr[-3000:]
    assert " passed" in tested.stdout and " failed" not in tested.stdout


def test_a_dirty_tree_is_refused_and_a_failed_update_changes_nothing(template, tmp_path):
    project = project_from(template, tmp_path / "project")
    (project / "Controllers/core.py").write_text((project / "Controllers/core.py").read_text() + "# wip\n")
    before = snapshot(project)
    refused = run_update(project, "--from", str(template))
    assert refused.returncode != 0 and "uncommitted changes" in refused.stderr
    assert snapshot(project) == before

    git(project, "checkout", "--", ".")
    before = snapshot(project)
    unknown = run_update(project, "--from", str(template), "--to", "v9.0.0")
    assert unknown.returncode != 0 and "no release v9.0.0" in unknown.stderr
    # A file the update must write cannot be: a folder holding only what git ignores (so the
    # tree is clean) stands where the framework's fixed file goes, after other files were written.
    (project / FIX).unlink()
    git(project, "commit", "--quiet", "-am", "a framework file gone")
    (project / FIX / "__pycache__").mkdir(parents=True)
    (project / FIX / "__pycache__" / "stale.pyc").write_bytes(b"x")
    before = snapshot(project)
    failed = run_update(project, "--from", str(template))
    assert failed.returncode != 0, failed.stdout
    assert "nothing was changed" in failed.stderr
    assert snapshot(project) == before
    assert 'version = "1.0.0"' in (project / "template-version.toml").read_text()


def test_nothing_is_written_through_a_link_older_releases_are_refused_and_a_dry_run_writes_nothing(template,
                                                                                                      tmp_path):
    project = project_from(template, tmp_path / "project")
    before = snapshot(project)
    dry = run_update(project, "--from", str(template), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "  conflict: " not in dry.stdout and "  taken: Dockerfile" in dry.stdout
    assert "nothing was changed" in dry.stdout and snapshot(project) == before

    # The project's deploy/ is a link to a folder outside it: the update refuses to write through it.
    outside = tmp_path / "outside"
    (project / "deploy").rename(outside)
    (project / "deploy").symlink_to(outside)
    git(project, "add", "-A")
    git(project, "commit", "--quiet", "-m", "deploy lives elsewhere")
    outside_before = snapshot(outside)
    linked = run_update(project, "--from", str(template))
    assert linked.returncode != 0 and "symbolic link" in linked.stderr
    assert snapshot(outside) == outside_before

    # At v2, --to v1.0.0 is refused.
    newer = project_from(template, tmp_path / "newer")
    assert run_update(newer, "--from", str(template)).returncode == 0
    git(newer, "add", "-A")
    git(newer, "commit", "--quiet", "-m", "update")
    back = run_update(newer, "--from", str(template), "--to", "v1.0.0")
    assert back.returncode != 0 and "older than v2.0.0" in back.stderr
