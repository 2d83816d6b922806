"""Fixtures of flask-keel's own tests.

They run in the repository that holds the framework (`make test-framework`), never in a
project's `make test`. Most run on tests/fixture_project, a small project of their own,
so a project's code cannot change their outcome; the others exercise the framework
through the project of this repository (REPO_ROOT: its `app` loader, its Server,
Controllers and Models), as `shipped_project` and `live_server` give it.
flask_keel.testing's plugin gives the services, the live servers and the browser.
"""

from __future__ import annotations

import socket
import subprocess
import textwrap
import time
from pathlib import Path

import pytest
import yaml

from flask_keel.testing import free_port, merge
from flask_keel.testing.projects import forget_user_packages, use_project

pytest_plugins = ["flask_keel.testing.plugin"]

# packages/flask-keel/tests/conftest.py: the repository's root is three folders up.
REPO_ROOT = Path(__file__).resolve().parents[3]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
# The project the framework's tests run against (members and notes), not the demo.
FIXTURE_PROJECT = Path(__file__).resolve().parent / "fixture_project"


def pytest_collection_modifyitems(items) -> None:
    # Tests that load the fixture project through its fixtures are marked like the modules
    # that start servers on it (`-m "not fixture_project"`: what the project's code can change).
    for item in items:
        if {"fixture_project", "fixture_project_module"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.fixture_project)


@pytest.fixture(scope="session", autouse=True)
def _from_the_repository_root():
    """The tests run from the repository's root, wherever pytest was started (its folder,
    packages/flask-keel, by `make test-framework`): a project's root is APP_ROOT, else
    the working directory, and what these tests load without naming one is REPO_ROOT."""
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(REPO_ROOT)
        yield


@pytest.fixture(scope="session")
def project_root() -> Path:
    """The project `shipped_project` and `live_server` run: this repository's."""
    return REPO_ROOT


@pytest.fixture
def write_config(tmp_path):
    """Write a config file (dedented) into the test's folder and return its path."""

    def write(text: str, name: str = "config.yml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


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
    # Without the checkout on the path, only this project's Server can be found.
    use_project(monkeypatch, root, home=REPO_ROOT)

    def write(relative: str, content: str) -> Path:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(content), encoding="utf-8")
        return path

    yield write
    forget_user_packages()


@pytest.fixture
def fixture_project(monkeypatch):
    """The framework's fixture project (tests/fixture_project), freshly imported."""
    use_project(monkeypatch, FIXTURE_PROJECT, home=REPO_ROOT)
    yield FIXTURE_PROJECT
    forget_user_packages()


@pytest.fixture(scope="module")
def fixture_project_module():
    """fixture_project for module-scoped fixtures."""
    with pytest.MonkeyPatch.context() as patch:
        use_project(patch, FIXTURE_PROJECT, home=REPO_ROOT)
        yield FIXTURE_PROJECT
    forget_user_packages()


class PrivateServer:
    """A MariaDB, Redis or memcached of the test's own, on a free port, that it may kill and restart."""

    def __init__(self, kind: str, directory: Path):
        self.kind = kind
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def command(self) -> list[str]:
        if self.kind == "mariadb":
            # --skip-grant-tables: root without a password, for this throw-away server only.
            return ["mariadbd", "--no-defaults", f"--datadir={self.directory}/data", f"--port={self.port}",
                    "--bind-address=127.0.0.1", f"--socket={self.directory}/mysqld.sock", "--user=root",
                    "--skip-grant-tables", "--skip-name-resolve", "--innodb-buffer-pool-size=32M"]
        if self.kind == "redis":
            # appendonly: data survives a kill and restart, as a production Redis would keep it.
            return ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                    "--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.directory)]
        return ["memcached", "-l", "127.0.0.1", "-p", str(self.port), "-U", "0", "-m", "16", "-u", "nobody"]

    def start(self) -> PrivateServer:
        if self.kind == "mariadb" and not (self.directory / "data").exists():
            subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={self.directory}/data", "--user=root",
                            "--auth-root-authentication-method=normal", "--skip-test-db"], check=True,
                           capture_output=True, timeout=120)
        self.process = subprocess.Popen(self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                if self.process.poll() is not None:
                    pytest.fail(f"{self.kind} exited with {self.process.returncode}: {' '.join(self.command())}")
                time.sleep(0.05)
        pytest.fail(f"private {self.kind} did not listen on {self.port}")

    def stop(self) -> None:
        """A clean shutdown, as a restart of the database server would do."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=60)

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def service(self, timeout: float = 1) -> dict:
        return {"HOST": "127.0.0.1", "PORT": self.port, "TIMEOUT": timeout}


@pytest.fixture
def private_server(tmp_path):
    servers: list[PrivateServer] = []

    def start(kind: str) -> PrivateServer:
        directory = tmp_path / f"{kind}-{len(servers)}"
        directory.mkdir()
        server = PrivateServer(kind, directory).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.kill()
