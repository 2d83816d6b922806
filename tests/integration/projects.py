"""Configs for an app on SQLite or the real MariaDB, and a JSON client for the test client.

`project_config` serves both projects a test may run: the shipped one (the
repository's Server, Controllers and Models) and the fixture project under
tests/fixture_project (the `fixture_project` fixture points APP_ROOT at it).
Neither names its models: the default database holds every models module.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import Result

from flask_keel.cli.db import db_group
from tests.conftest import merge
from tests.live import mariadb_entry


def project_config(tmp: Path, backend: str = "sqlite", mariadb=None, database: str | None = None,
                   **sections) -> Path:
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


def run_db(app, *args: str) -> Result:
    """`flask db ARGS` against this app, in-process."""
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

    def signup(self, username: str, password: str = "correct horse battery") -> int:
        response = self.post("/ws/signup", json={"username": username, "password": password,
                                                 "email": f"{username}@school.test"})
        assert response.status_code == 201, response.json
        return response.json["user"]["id"]
