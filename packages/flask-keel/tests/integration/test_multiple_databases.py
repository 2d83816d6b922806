"""Two databases in one app: MariaDB (writable: the fixture project's members and notes) and SQLite
(read-only: reports, from a models module of its own that names no database)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap

import pytest
import yaml
from sqlalchemy import insert, inspect, select, text

from flask_keel import create_app
from flask_keel.db import ReadOnlyDatabaseError, db
from flask_keel.db.testing import dispose
from flask_keel.testing import ApiClient, mariadb_entry, run_db
from tests.conftest import FIXTURE_PROJECT, REPO_ROOT

pytestmark = [pytest.mark.integration, pytest.mark.fixture_project]

REPORTS_MODELS = """
    from sqlalchemy import String
    from sqlalchemy.orm import Mapped, mapped_column

    from flask_keel.db import db


    class Report(db.Model):
        __tablename__ = "reports"

        id: Mapped[int] = mapped_column(primary_key=True)
        title: Mapped[str] = mapped_column(String(100))
"""


@pytest.fixture
def two_databases(tmp_path, monkeypatch, fixture_project, mariadb, mariadb_databases):
    package = tmp_path / "extra_models"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "reports.py").write_text(textwrap.dedent(REPORTS_MODELS))
    monkeypatch.syspath_prepend(str(tmp_path))

    reports_file = tmp_path / "reports.sqlite3"
    with sqlite3.connect(reports_file) as connection:
        connection.execute("CREATE TABLE reports (id INTEGER PRIMARY KEY, title VARCHAR(100))")
        connection.execute("INSERT INTO reports (title) VALUES ('Term one')")

    config = tmp_path / "two.yml"
    config.write_text(yaml.safe_dump({
        "SERVER_ENV": {"INSTANCE_PATH": str(tmp_path / "instance"), "APP_KEY": "k" * 40},
        "DATABASE": {
            "default": "main",
            "main": mariadb_entry(mariadb, mariadb_databases("two"), models=["members", "notes"]),
            "reports": {"driver": "sqlite", "database": str(reports_file), "readonly": True,
                        "models": "extra_models.reports"},
        },
        "SERVICES": {"filesystem": {"PATH": str(tmp_path / "sessions")}},
    }))
    app = create_app(config)
    yield app, config, reports_file
    dispose(app)


def test_migrations_run_on_the_writable_database_only(two_databases):
    app, _, reports_file = two_databases
    result = run_db(app, "upgrade")
    assert result.exit_code == 0, result.output
    assert "notes" in inspect(db_engine(app, "main")).get_table_names()
    assert inspect(db_engine(app, "reports")).get_table_names() == ["reports"]


def test_reads_and_writes_go_to_their_own_database(two_databases):
    app, _, _ = two_databases
    run_db(app, "upgrade")
    from extra_models.reports import Report

    ApiClient(app.test_client()).signup("multi")
    with app.app_context():
        assert db.session.scalars(select(Report.title)).all() == ["Term one"]
        assert db.session.execute(text("SELECT username FROM members")).scalars().all() == ["multi"]


def test_a_write_to_the_readonly_database_is_refused_clearly(two_databases):
    app, _, reports_file = two_databases
    from extra_models.reports import Report

    with app.app_context():
        db.session.add(Report(title="Sneaky"))
        with pytest.raises(ReadOnlyDatabaseError, match=r"database 'reports' is read-only "
                                                        r"\(DATABASE.reports.readonly: true\); refused INSERT"):
            db.session.commit()
        db.session.rollback()
        with pytest.raises(ReadOnlyDatabaseError, match="refused DELETE"):
            with db.engines["reports"].begin() as connection:
                connection.execute(text("DELETE FROM reports"))
        with pytest.raises(ReadOnlyDatabaseError, match="refused INSERT"):
            db.session.execute(insert(Report).values(title="Core insert"))
    with sqlite3.connect(reports_file) as connection:
        assert connection.execute("SELECT title FROM reports").fetchall() == [("Term one",)]


def test_the_database_itself_refuses_writes_that_bypass_the_guard(two_databases):
    app, _, _ = two_databases
    raw = db_engine(app, "reports").raw_connection()
    try:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            raw.cursor().execute("INSERT INTO reports (title) VALUES ('raw')")
    finally:
        raw.close()


def test_shell_preloads_the_app_sessions_and_models(two_databases):
    _, config, _ = two_databases
    code = ("names = dir()\n"
            "wanted = ('db', 'session', 'engines', 'Member', 'Note', 'Report')\n"
            "print(sorted(name for name in wanted if name in names))\n")
    result = subprocess.run([sys.executable, "-m", "app", "shell"], input=code, text=True, capture_output=True,
                            cwd=REPO_ROOT, timeout=60,
                            env={**__import__("os").environ, "APP_CONFIG": str(config),
                                 "PYTHONPATH": str(config.parent), "APP_ROOT": str(FIXTURE_PROJECT)})
    assert "['Member', 'Note', 'Report', 'db', 'engines', 'session']" in result.stdout, result.stderr


def db_engine(app, name):
    return db.engines_by_name(app)[name]
