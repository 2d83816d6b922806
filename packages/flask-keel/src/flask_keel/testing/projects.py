"""The project under test: its packages freshly imported, configs for it on SQLite or
MariaDB, a JSON client for Flask's test client, and scratch copies of it."""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
import yaml

from flask_keel.testing.helpers import merge
from flask_keel.testing.services import mariadb_entry

USER_PACKAGES = ("Server", "Controllers", "Models")


def forget_user_packages() -> None:
    """Drop the project's packages (and the models they declared) so the next app imports them anew."""
    from flask_keel.db.testing import forget_models

    forget_models()
    for name in list(sys.modules):
        if name.split(".")[0] in USER_PACKAGES:
            del sys.modules[name]


def use_project(patch: pytest.MonkeyPatch, root: Path, home: Path | None = None) -> None:
    """Make `root` the project create_app loads: APP_ROOT, and its packages first on the path.
    `home`: the checkout whose `app` package records APP_ROOT (left out of the path when
    `root` is another project, so only `root`'s packages can be found)."""
    patch.setenv("APP_ROOT", str(root))
    # Another project's folder on the path (the checkout, or one an earlier test used)
    # would let its Server or Controllers be imported in place of root's.
    others = [entry for entry in sys.path
              if (home is None or root == home or Path(entry or ".").resolve() != home)
              and not (Path(entry or ".").resolve() != root.resolve() and (Path(entry or ".") / "Server").is_dir())]
    patch.setattr(sys, "path", [str(root), *others])
    forget_user_packages()


def project_config(tmp: Path, backend: str = "sqlite", mariadb=None, database: str | None = None,
                   **sections) -> Path:
    """A config file in `tmp` for the project on SQLite, or on `database` of the MariaDB at
    `mariadb` (backend "mariadb"); `sections` laid over it."""
    if backend == "sqlite":
        main = {"driver": "sqlite", "database": str(tmp / "app.sqlite3")}
    else:
        main = mariadb_entry(mariadb, database)
    base = {
        "SERVER_ENV": {"INSTANCE_PATH": str(tmp / "instance"), "APP_KEY": "k" * 40},
        "DATABASE": {"default": "main", "main": main},
        "SERVICES": {"filesystem": {"PATH": str(tmp / "sessions")}},
    }
    path = tmp / f"project-{backend}.yml"
    path.write_text(yaml.safe_dump(merge(base, sections)))
    return path


def run_db(app, *args: str):
    """`flask db ARGS` against this app, in-process (a click Result)."""
    from flask_keel.cli.db import db_group

    return app.test_cli_runner().invoke(db_group, list(args), catch_exceptions=False)


class ApiClient:
    """A test client that behaves like a JSON API client: it sends X-CSRFToken with
    unsafe methods and takes the fresh token a login or signup answers with."""

    UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}

    def __init__(self, client):
        self.client = client
        self.token = client.get("/ws/csrf").json["csrf_token"]

    def open(self, method: str, path: str, **kwargs):
        headers = dict(kwargs.pop("headers", {}))
        if method in self.UNSAFE:
            headers.setdefault("X-CSRFToken", self.token)
        response = self.client.open(path, method=method, headers=headers, **kwargs)
        if response.is_json and isinstance(response.json, dict) and "csrf_token" in response.json:
            self.token = response.json["csrf_token"]
        return response

    def get(self, path, **kwargs):
        return self.open("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self.open("POST", path, **kwargs)

    def patch(self, path, **kwargs):
        return self.open("PATCH", path, **kwargs)

    def delete(self, path, **kwargs):
        return self.open("DELETE", path, **kwargs)

    def signup(self, username: str, password: str = "correct horse battery") -> int:  # noqa: S107
        response = self.post("/ws/signup", json={"username": username, "password": password,
                                                 "email": f"{username}@school.test"})
        assert response.status_code == 201, response.json
        return response.json["user"]["id"]


IGNORED = shutil.ignore_patterns(".git", ".venv", ".venv-*", "instance", "node_modules", "__pycache__",
                                 ".pytest_cache", ".ruff_cache", "*.egg-info", ".env", "dist", "build")


def scratch_copy(source: Path, destination: Path) -> Path:
    """Copy the project at `source` (without its virtualenv, state, caches and builds) to
    `destination`, for a test that changes its files without touching the checkout."""
    shutil.copytree(source, destination, ignore=IGNORED, symlinks=True)
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
