"""Schema versions on the fixture project: upgrade, downgrade, check, and two upgrades racing.
(A migration generated for a new model, in a copy of the shipped project: test_new_model_migration.py.)"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import inspect, text

from flask_keel import create_app
from flask_keel.db import db
from flask_keel.db.testing import dispose
from flask_keel.testing import project_config, run_db
from tests.conftest import FIXTURE_PROJECT, REPO_ROOT

pytestmark = pytest.mark.integration

TABLES = {"members", "notes"}


@pytest.fixture(params=["sqlite", "mariadb"])
def fresh_app(request, tmp_path, fixture_project):
    if request.param == "mariadb":
        database = request.getfixturevalue("mariadb_databases")("migrate")
        config = project_config(tmp_path, "mariadb", request.getfixturevalue("mariadb"), database)
    else:
        config = project_config(tmp_path, "sqlite")
    app = create_app(config)
    yield app
    dispose(app)


def head(app) -> str:
    """The newest revision in migrations/versions (never written into a test: each new one moves it)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from flask_keel.extensions import SETTINGS_KEY

    config = Config()
    config.set_main_option("script_location", str(app.extensions[SETTINGS_KEY].root / "migrations"))
    return ScriptDirectory.from_config(config).get_current_head()


def tables(app) -> set[str]:
    engine = db.engines_by_name(app)["main"]
    return set(inspect(engine).get_table_names())


def version(app) -> str | None:
    with db.engines_by_name(app)["main"].connect() as connection:
        return connection.scalar(text("SELECT version_num FROM alembic_version"))


def test_upgrade_downgrade_upgrade(fresh_app):
    assert run_db(fresh_app, "upgrade").exit_code == 0
    assert TABLES <= tables(fresh_app) and version(fresh_app) == head(fresh_app)

    result = run_db(fresh_app, "downgrade", "base")
    assert result.exit_code == 0, result.output
    assert tables(fresh_app) & TABLES == set()
    assert version(fresh_app) is None

    assert run_db(fresh_app, "upgrade", "head").exit_code == 0
    assert TABLES <= tables(fresh_app) and version(fresh_app) == head(fresh_app)


def test_check_is_clean_at_head_and_fails_when_models_and_schema_differ(fresh_app, caplog):
    run_db(fresh_app, "upgrade")
    clean = run_db(fresh_app, "check")
    assert clean.exit_code == 0 and "No new upgrade operations detected" in clean.output

    with db.engines_by_name(fresh_app)["main"].begin() as connection:
        connection.execute(text("ALTER TABLE notes ADD COLUMN room VARCHAR(10)"))
    drifted = run_db(fresh_app, "check")
    assert drifted.exit_code == 1
    assert "New upgrade operations detected" in caplog.text and "room" in caplog.text


def test_check_fails_when_the_database_is_behind(fresh_app, caplog):
    result = run_db(fresh_app, "check")
    assert result.exit_code == 1 and "Target database is not up to date" in caplog.text


def test_tables_no_model_describes_are_never_dropped(fresh_app):
    run_db(fresh_app, "upgrade")
    with db.engines_by_name(fresh_app)["main"].begin() as connection:
        connection.execute(text("CREATE TABLE someone_elses (id INTEGER PRIMARY KEY)"))
    assert run_db(fresh_app, "check").exit_code == 0
    assert "someone_elses" in tables(fresh_app)


def test_current_and_history_show_the_numbered_revision(fresh_app):
    run_db(fresh_app, "upgrade")
    newest = head(fresh_app)
    assert f"{newest} (head)" in run_db(fresh_app, "current").output
    history = run_db(fresh_app, "history", "--indicate-current").output
    assert "<base> -> 0001" in history and "members and notes" in history
    assert f"{newest} (head) (current)" in history


def test_the_committed_migrations_match_the_models(shipped_project, tmp_path):
    """CI's `flask db check` on the shipped project: a model change without its revision fails the build."""
    app = create_app(project_config(tmp_path, "sqlite"))
    assert run_db(app, "upgrade").exit_code == 0
    result = run_db(app, "check")
    assert result.exit_code == 0, result.output


@pytest.mark.fixture_project
def test_two_upgrades_at_once_apply_once_and_both_succeed(mariadb, mariadb_databases, tmp_path):
    config = project_config(tmp_path, "mariadb", mariadb, mariadb_databases("race"))
    environ = {**os.environ, "APP_CONFIG": str(config), "APP_ROOT": str(FIXTURE_PROJECT)}
    command = [sys.executable, "-m", "app", "db", "upgrade"]
    processes = [subprocess.Popen(command, cwd=REPO_ROOT, env=environ, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outputs = [process.communicate(timeout=120)[0] for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    applied = [output.count("Running upgrade  -> 0001") for output in outputs]
    assert sorted(applied) == [0, 1], outputs
    assert all("waiting for the migration lock" in output for output in outputs)
