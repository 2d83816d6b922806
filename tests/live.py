"""Fixtures for tests against real servers on 127.0.0.1, started or required
(a pytest plugin, registered by tests/conftest.py).

A service the suite needs and cannot reach fails the test with the reason; it
is never skipped, so a CI run without MariaDB, Redis or memcached is red.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
import yaml

from tests.conftest import FIXTURE_PROJECT, REPO_ROOT, free_port, merge

MARIADB = ("127.0.0.1", int(os.environ.get("TEST_MYSQL_PORT", "3306")))
REDIS = ("127.0.0.1", int(os.environ.get("TEST_REDIS_PORT", "6379")))
MEMCACHED = ("127.0.0.1", int(os.environ.get("TEST_MEMCACHED_PORT", "11211")))


def require(service: str, address: tuple[str, int]) -> tuple[str, int]:
    try:
        socket.create_connection(address, timeout=2).close()
    except OSError as exc:
        pytest.fail(f"{service} is required at {address[0]}:{address[1]} and is not reachable ({exc}); "
                    f"start it (see .ci/run)", pytrace=False)
    return address


@pytest.fixture(scope="session")
def mariadb():
    return require("MariaDB", MARIADB)


@pytest.fixture(scope="session")
def redis_server():
    return require("Redis", REDIS)


@pytest.fixture(scope="session")
def memcached_server():
    return require("memcached", MEMCACHED)


def signed_up(url: str, name: str, password: str = "a long password") -> requests.Session:
    """A browser-like session that signed up as `name` on a live server, sending its CSRF token."""
    browser = requests.Session()
    token = browser.get(url + "/ws/csrf", timeout=10).json()["csrf_token"]
    response = browser.post(url + "/ws/signup", headers={"X-CSRFToken": token}, timeout=10,
                            json={"username": name, "password": password, "email": f"{name}@x.io"})
    assert response.status_code == 201, response.text
    browser.headers["X-CSRFToken"] = response.json()["csrf_token"]
    return browser


@dataclass
class LiveServer:
    """A real `python -m app serve` (gunicorn + gevent) on a free port."""

    process: subprocess.Popen
    port: int
    log_path: Path
    session: requests.Session = field(default_factory=requests.Session)
    config: Path | None = None  # the config file it serves

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.session.get(self.url + path, timeout=10, **kwargs)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_live_server(directory: Path, name: str, env: dict[str, str] | None = None, migrate: bool = False,
                      port: int | None = None, project: str | Path = "shipped", **sections) -> LiveServer:
    """`python -m app serve` on a config of `sections` laid over an isolated base in `directory`
    (its config, log, database and instance named after `name`). `migrate`: apply the
    project's migrations first. `project`: "shipped" (the repository's own Server/Controllers/
    Models), "fixture" (tests/fixture_project), or the path of a copy of the project (served
    with its own app package)."""
    main = {"driver": "sqlite", "database": f"{directory}/app.sqlite3"}
    cwd = REPO_ROOT
    if project == "fixture":
        env = {"APP_ROOT": str(FIXTURE_PROJECT), **(env or {})}
    elif isinstance(project, Path):
        cwd = project
        env = {"APP_ROOT": str(project), **(env or {})}
    if not migrate:
        main["models"] = []  # an app without tables: nothing refers to them
    base = {
        # Open websockets hold a graceful stop until this timeout; tests need not wait 30 s.
        # One worker unless a test asks for more (tests/integration/test_workers.py).
        "SERVER_ENV": {"INSTANCE_PATH": f"{directory}/instance", "APP_KEY": "live-server-key-" * 3,
                       "GRACEFUL_TIMEOUT": 3, "PROCESSES": 1},
        "DATABASE": {"main": main},
        # Tests sign many users up from 127.0.0.1; the limit itself is tested on its own.
        "FLASK": {"CONFIG": {"SIGNUP_RATE_LIMIT": "1000 per minute"}},
        "SERVICES": {"filesystem": {"PATH": f"{directory}/sessions"}},
    }
    config = directory / f"config-{name}.yml"
    config.write_text(yaml.safe_dump(merge(base, sections)))
    port = port or free_port()
    log_path = directory / f"server-{name}.log"
    environ = {**os.environ, "APP_CONFIG": str(config), **(env or {})}
    if migrate:
        migrate_database(cwd, environ, merge(base, sections)["DATABASE"])
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--bind", f"127.0.0.1:{port}"],
        cwd=cwd, env=environ, stdout=log_path.open("wb"), stderr=subprocess.STDOUT)
    server = LiveServer(process, port, log_path, config=config)
    try:
        wait_until_serving(server)
    except BaseException:
        server.stop()
        raise
    return server


@pytest.fixture
def live_server(tmp_path):
    """Start servers from a config (sections laid over an isolated base); stop them after."""
    started: list[LiveServer] = []

    def start(env: dict[str, str] | None = None, migrate: bool = False, port: int | None = None,
              project: str | Path = "shipped", **sections) -> LiveServer:
        """See start_live_server."""
        server = start_live_server(tmp_path, str(len(started)), env, migrate, port, project, **sections)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


# Migrated SQLite databases, by project and migration files: most tests start from the same
# empty schema, which a copy gives in milliseconds instead of a `flask db upgrade` process.
_MIGRATED: dict[tuple, Path] = {}
_MIGRATED_DIR = Path(tempfile.mkdtemp(prefix="migrated-"))
atexit.register(shutil.rmtree, _MIGRATED_DIR, True)


def migrate_database(cwd: Path, environ: dict[str, str], database: dict) -> None:
    main = database.get("main", {})
    if len(database) > 1 or main.get("driver") != "sqlite" or Path(main["database"]).exists():
        subprocess.run([sys.executable, "-m", "app", "db", "upgrade"], cwd=cwd, env=environ, check=True,
                       capture_output=True, timeout=120)
        return
    versions = Path(environ.get("APP_ROOT") or cwd) / "migrations" / "versions"
    models = Path(environ.get("APP_ROOT") or cwd) / "Models" / "Persistent"
    key = tuple(sorted((str(path), path.stat().st_mtime_ns) for folder in (versions, models)
                       for path in folder.glob("*.py"))) + (repr(main.get("models")),)
    target = Path(main["database"])
    if key not in _MIGRATED:
        subprocess.run([sys.executable, "-m", "app", "db", "upgrade"], cwd=cwd, env=environ, check=True,
                       capture_output=True, timeout=120)
        _MIGRATED[key] = _MIGRATED_DIR / f"{len(_MIGRATED)}.sqlite3"
        shutil.copyfile(target, _MIGRATED[key])
        return
    shutil.copyfile(_MIGRATED[key], target)
    target.chmod(0o600)


def wait_until_serving(server: LiveServer, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"server exited with {server.process.returncode}:\n{server.log()}", pytrace=False)
        try:
            if requests.get(server.url + "/healthz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            # Refused before the master listens; a read timeout while the worker boots
            # (gunicorn's master accepts connections before its worker is ready).
            time.sleep(0.1)
    pytest.fail(f"server did not answer on {server.url} within {timeout}s:\n{server.log()}", pytrace=False)


@pytest.fixture(scope="session")
def mariadb_databases(mariadb):
    """Make throw-away databases on the real MariaDB; all are dropped at the end."""
    import uuid

    import pymysql

    created: list[str] = []

    def connect():
        return pymysql.connect(host=mariadb[0], port=mariadb[1], user="root", password="", autocommit=True)

    def make(prefix: str = "tmpl") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with connect() as connection, connection.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        created.append(name)
        return name

    yield make
    with connect() as connection, connection.cursor() as cursor:
        for name in created:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")


def mariadb_entry(address: tuple[str, int], database: str, **extra) -> dict:
    return {"driver": "mysql+pymysql", "user": "root", "address": address[0], "port": address[1],
            "database": database, **extra}


class PrivateServer:
    """A Redis or memcached of the test's own, on a free port, that it may kill and restart."""

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
