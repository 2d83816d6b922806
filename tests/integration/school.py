"""An app on the school models, on SQLite or the real MariaDB, one transaction per test."""

from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import Result

from app import create_app
from app.cli.db import db_group
from tests.conftest import merge
from tests.integration.conftest import mariadb_entry


def school_config(tmp: Path, backend: str, mariadb=None, database: str | None = None, **sections) -> Path:
    if backend == "sqlite":
        main = {"driver": "sqlite", "database": str(tmp / "school.sqlite3"), "models": "school"}
    else:
        main = mariadb_entry(mariadb, database, models="school")
    base = {
        "SERVER_ENV": {"INSTANCE_PATH": str(tmp / "instance"), "APP_KEY": "k" * 40},
        "DATABASE": {"default": "main", "main": main},
        "SERVICES": {"filesystem": {"PATH": str(tmp / "sessions")}},
    }
    path = tmp / f"school-{backend}.yml"
    path.write_text(yaml.safe_dump(merge(base, sections)))
    return path


def run_db(app, *args: str) -> Result:
    """`flask db ARGS` against this app, in-process."""
    return app.test_cli_runner().invoke(db_group, list(args), catch_exceptions=False)
