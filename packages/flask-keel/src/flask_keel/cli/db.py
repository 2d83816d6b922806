"""`flask db ...`: Flask-Migrate's commands, with revisions as plain numbers.

    flask db migrate -m "add rooms"     # the models' changes as migrations/versions/0003_add_rooms.py
    flask db upgrade                    # apply every revision (under the migration lock)
    flask db downgrade                  # one step back; also -1, 2 (= 0002), base
    flask db current | history | check | stamp | show | heads

Flask-Migrate is imported when a `db` command runs, not when `flask` lists its
commands: Alembic costs a noticeable part of a second to import.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import click

# Commands whose REVISION argument may be a plain number (`1` is revision 0001),
# and which accept a relative step such as -1 without `--` before it.
NUMBERED = ("upgrade", "downgrade", "stamp", "show")


def normalise_revision(revision: str) -> str:
    """`1`, `01` -> `0001` (this project's numbering); anything else as given."""
    return f"{int(revision):04d}" if re.fullmatch(r"\d{1,3}", revision) else revision


def _numbered(command: click.Command) -> click.Command:
    if getattr(command, "numbered_revisions", False):
        return command
    original = command.callback

    @functools.wraps(original)
    def callback(*args: Any, **kwargs: Any) -> Any:
        if isinstance(kwargs.get("revision"), str):
            kwargs["revision"] = normalise_revision(kwargs["revision"])
        return original(*args, **kwargs)

    command.callback = callback
    # `downgrade -1`: click would read -1 as an unknown option; let it reach the argument.
    command.ignore_unknown_options = True
    command.numbered_revisions = True  # type: ignore[attr-defined]
    return command


def ensure_migrate() -> None:
    """Flask-Migrate on the current app, with this project's migrations folder (once)."""
    from flask import current_app
    from flask_migrate import Migrate

    from flask_keel.db import db
    from flask_keel.extensions import current_settings

    if "migrate" not in current_app.extensions:
        migrate = Migrate(current_app, db, directory=str(current_settings().root / "migrations"))
        migrate.configure(_output_to_current_stdout)


def _output_to_current_stdout(config: Any) -> Any:
    # Alembic's Config takes sys.stdout when its module is imported; what a command
    # prints goes where stdout is now (a redirect, a test's runner).
    import sys

    config.stdout = sys.stdout
    return config


class MigrateGroup(click.Group):
    """Flask-Migrate's `db` group, loaded on first use."""

    def _group(self) -> click.Group:
        from flask_migrate.cli import db

        if self.callback is None:  # adopt its options (-d, -x) and its app-context callback
            original = db.callback

            @functools.wraps(original)
            def callback(*args: Any, **kwargs: Any) -> Any:
                result = original(*args, **kwargs)  # loads the app and keeps its context open
                ensure_migrate()
                return result

            self.params = db.params
            self.callback = callback
        return db

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        self._group()
        return super().parse_args(ctx, args)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return self._group().list_commands(ctx)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = self._group().get_command(ctx, name)
        return _numbered(command) if command is not None and name in NUMBERED else command


db_group = MigrateGroup("db", help="Schema versions (Flask-Migrate): migrate, upgrade, downgrade, current, history, "
                                   "check, stamp.")
