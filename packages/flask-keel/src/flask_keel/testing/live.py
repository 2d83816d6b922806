"""A real server for a test: `python -m app serve` (gunicorn + gevent) on a free port,
on a config of the test's own, with its log kept for the failure message."""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
import yaml

from flask_keel.testing.helpers import free_port, merge
from flask_keel.testing.services import REDIS, REDIS_DB


def signed_up(url: str, name: str, password: str = "a long password") -> requests.Session:  # noqa: S107
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
                      port: int | None = None, project: Path | None = None, *, root: Path,
                      **sections) -> LiveServer:
    """`python -m app serve` on a config of `sections` laid over an isolated base in `directory`
    (its config, log, database and instance named after `name`). `migrate`: apply the
    project's migrations first. `root`: the project whose `app` package serves. `project`:
    another project folder to serve (APP_ROOT), with its own `app` package if it has one
    (a copy of the project), else with `root`'s. SERVICES.redis on the suite's Redis with
    no DB is on TEST_REDIS_DB's."""
    main = {"driver": "sqlite", "database": f"{directory}/app.sqlite3"}
    cwd = root
    if project is not None:
        project = Path(project)
        env = {"APP_ROOT": str(project), **(env or {})}
        if (project / "app" / "__init__.py").exists():
            cwd = project
    if not migrate:
        main["models"] = []  # an app without tables: nothing refers to them
    base = {
        # Open websockets hold a graceful stop until this timeout; tests need not wait 30 s.
        # One worker unless a test asks for more.
        "SERVER_ENV": {"INSTANCE_PATH": f"{directory}/instance", "APP_KEY": "live-server-key-" * 3,
                       "GRACEFUL_TIMEOUT": 3, "PROCESSES": 1},
        "DATABASE": {"main": main},
        # Tests sign many users up from 127.0.0.1; the limit itself is tested on its own.
        "FLASK": {"CONFIG": {"SIGNUP_RATE_LIMIT": "1000 per minute"}},
        "SERVICES": {"filesystem": {"PATH": f"{directory}/sessions"}},
    }
    config = directory / f"config-{name}.yml"
    config.write_text(yaml.safe_dump(_on_test_redis_db(merge(base, sections))))
    port = port or free_port()
    log_path = directory / f"server-{name}.log"
    environ = {**os.environ, "APP_CONFIG": str(config), **(env or {})}
    if migrate:
        migrate_database(cwd, environ, merge(base, sections)["DATABASE"])
    process = subprocess.Popen(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, "-m", "app", "serve", "--bind", f"127.0.0.1:{port}"],
        cwd=cwd, env=environ, stdout=log_path.open("wb"), stderr=subprocess.STDOUT)
    server = LiveServer(process, port, log_path, config=config)
    try:
        wait_until_serving(server)
    except BaseException:
        server.stop()
        raise
    return server


def _on_test_redis_db(config: dict) -> dict:
    """The suite's Redis named without a database number gets TEST_REDIS_DB's, so a test
    written with only HOST and PORT keeps off the database another run uses."""
    entry = config.get("SERVICES", {}).get("redis")
    if isinstance(entry, dict) and "URL" not in entry and "DB" not in entry \
            and (entry.get("HOST"), entry.get("PORT")) == REDIS:
        entry["DB"] = REDIS_DB
    return config


# Migrated SQLite databases, by project and migration files: most tests start from the same
# empty schema, which a copy gives in milliseconds instead of a `flask db upgrade` process.
_MIGRATED: dict[tuple, Path] = {}
_MIGRATED_DIR: Path | None = None


def _migrated_dir() -> Path:
    global _MIGRATED_DIR
    if _MIGRATED_DIR is None:
        _MIGRATED_DIR = Path(tempfile.mkdtemp(prefix="migrated-"))
        atexit.register(shutil.rmtree, _MIGRATED_DIR, True)
    return _MIGRATED_DIR


def _upgrade(cwd: Path, environ: dict[str, str]) -> None:
    subprocess.run([sys.executable, "-m", "app", "db", "upgrade"], cwd=cwd, env=environ,  # noqa: S603
                   check=True, capture_output=True, timeout=120)


def migrate_database(cwd: Path, environ: dict[str, str], database: dict) -> None:
    """`python -m app db upgrade` for the config in `environ`; a lone SQLite database that
    does not exist yet is copied from one migrated before, when the migrations are the same."""
    main = database.get("main", {})
    if len(database) > 1 or main.get("driver") != "sqlite" or Path(main["database"]).exists():
        _upgrade(cwd, environ)
        return
    versions = Path(environ.get("APP_ROOT") or cwd) / "migrations" / "versions"
    models = Path(environ.get("APP_ROOT") or cwd) / "Models" / "Persistent"
    key = tuple(sorted((str(path), path.stat().st_mtime_ns) for folder in (versions, models)
                       for path in folder.glob("*.py"))) + (repr(main.get("models")),)
    target = Path(main["database"])
    if key not in _MIGRATED:
        _upgrade(cwd, environ)
        _MIGRATED[key] = _migrated_dir() / f"{len(_MIGRATED)}.sqlite3"
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
