"""Fixtures shared by unit and integration tests."""

from __future__ import annotations

import socket
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml

pytest_plugins = ["tests.live", "tests.browsing"]

REPO_ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
# The project the framework's tests run against (members and notes), not the demo.
FIXTURE_PROJECT = Path(__file__).resolve().parent / "fixture_project"
USER_PACKAGES = ("Server", "Controllers", "Models")


def pytest_collection_modifyitems(items) -> None:
    # Tests that load the fixture project through its fixtures are marked like the modules
    # that start servers on it (`-m "not fixture_project"`: what the project's code can change).
    for item in items:
        if {"fixture_project", "fixture_project_module"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.fixture_project)


def csrf_headers(client) -> dict[str, str]:
    """The header a JSON client sends with unsafe methods, fetched as the Python client does."""
    return {"X-CSRFToken": client.get("/ws/csrf").json["csrf_token"]}


def wait_until(predicate, timeout: float = 5.0, interval: float = 0.05):
    """Poll `predicate` until it returns something true, or `timeout` passes; return its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    return predicate()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def write_config(tmp_path):
    """Write a config file (dedented) into the test's folder and return its path."""

    def write(text: str, name: str = "config.yml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


def merge(base: dict, extra: dict) -> dict:
    """`extra` laid over `base`, nested mappings merged key by key."""
    merged = dict(base)
    for key, value in extra.items():
        merged[key] = merge(merged[key], value) if isinstance(value, dict) and isinstance(
            merged.get(key), dict) else value
    return merged


@pytest.fixture
def isolated_config(tmp_path, monkeypatch):
    """A config for create_app whose every writable path is inside the test's folder.

    Keyword arguments are sections laid over the base, e.g.
    `isolated_config(SERVER_ENV={"ENV": "PROD"})`. APP_CONFIG points at the file.
    """

    def make(**sections) -> Path:
        base = {
            "SERVER_ENV": {"INSTANCE_PATH": f"{tmp_path}/instance", "LOG": {"LEVEL": "DEBUG"}},
            "DATABASE": {"main": {"driver": "sqlite", "database": f"{tmp_path}/app.sqlite3"}},
            "SERVICES": {"filesystem": {"PATH": f"{tmp_path}/sessions"}},
        }
        path = tmp_path / "config.yml"
        path.write_text(yaml.safe_dump(merge(base, sections)), encoding="utf-8")
        monkeypatch.setenv("APP_CONFIG", str(path))
        return path

    return make


def _forget_user_packages() -> None:
    from flask_keel.db.testing import forget_models

    forget_models()
    for name in list(sys.modules):
        if name.split(".")[0] in USER_PACKAGES:
            del sys.modules[name]


@pytest.fixture
def user_project(tmp_path, monkeypatch):
    """An empty project root (APP_ROOT) whose Server/Controllers the test writes.

    The user's packages are dropped from sys.modules before and after, so each
    test imports its own.
    """
    root = tmp_path / "project"
    root.mkdir()
    for folder in ("template", "static"):
        (root / folder).mkdir()
    monkeypatch.setenv("APP_ROOT", str(root))
    # Without the checkout on the path, only this project's Server can be found.
    others = [entry for entry in sys.path if Path(entry or ".").resolve() != REPO_ROOT]
    monkeypatch.setattr(sys, "path", [str(root), *others])
    _forget_user_packages()

    def write(relative: str, content: str) -> Path:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(content), encoding="utf-8")
        return path

    yield write
    _forget_user_packages()


def _use_project(patch: pytest.MonkeyPatch, root: Path) -> None:
    """Make `root` the project create_app loads: APP_ROOT, and its packages first on the path."""
    if root == REPO_ROOT:
        patch.delenv("APP_ROOT", raising=False)
        patch.setattr(sys, "path", [str(REPO_ROOT), *sys.path])
    else:
        patch.setenv("APP_ROOT", str(root))
        others = [entry for entry in sys.path if Path(entry or ".").resolve() != REPO_ROOT]
        patch.setattr(sys, "path", [str(root), *others])
    _forget_user_packages()


@pytest.fixture
def fixture_project(monkeypatch):
    """The framework's fixture project (tests/fixture_project), freshly imported."""
    _use_project(monkeypatch, FIXTURE_PROJECT)
    yield FIXTURE_PROJECT
    _forget_user_packages()


@pytest.fixture(scope="module")
def fixture_project_module():
    """fixture_project for module-scoped fixtures."""
    with pytest.MonkeyPatch.context() as patch:
        _use_project(patch, FIXTURE_PROJECT)
        yield FIXTURE_PROJECT
    _forget_user_packages()


@pytest.fixture
def shipped_project(monkeypatch):
    """The repository's own Server/Controllers, freshly imported."""
    monkeypatch.delenv("APP_ROOT", raising=False)
    monkeypatch.setattr(sys, "path", [str(REPO_ROOT), *sys.path])
    _forget_user_packages()
    yield REPO_ROOT
    _forget_user_packages()


@pytest.fixture(scope="module")
def shipped_project_module():
    """shipped_project for module-scoped fixtures."""
    with pytest.MonkeyPatch.context() as patch:
        _use_project(patch, REPO_ROOT)
        yield REPO_ROOT
    _forget_user_packages()
