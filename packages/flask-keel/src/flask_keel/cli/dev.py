"""`python -m app dev` (`make dev`): the app for development, reloading as you edit.

The schema is brought up to date first (quietly: a line per revision applied,
not Alembic's log), then the app runs on Werkzeug's development server with
Flask's debugger (a traceback page for an error) and its reloader: a change to
any Python file the app imported (Controllers/, Server/, Models/, app/) restarts
it within a second, and templates are read again as they change. Socket.IO runs
in threads there, websockets included. Bound to 127.0.0.1 unless told otherwise:
the debugger runs code for whoever can reach it.

Never in production: `python -m app serve` (gunicorn) is the server for that.
"""

from __future__ import annotations

import logging
import os

import click


@click.command("dev")
@click.option("--host", default=None, help="Address to listen on (default: BIND_ADDRESS, else 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default: SERVER_ENV.BIND.PORT).")
@click.option("--poll", is_flag=True, help="Watch files by polling (bind mounts that send no file events).")
@click.option("--no-migrate", is_flag=True, help="Do not bring the schema up to date first.")
def dev_command(host: str | None, port: int | None, poll: bool, no_migrate: bool) -> None:
    """Run the app with the debugger and code reloading (development only)."""
    from flask_keel.cli.common import settings_or_exit

    settings = settings_or_exit()
    if settings.is_production:
        raise click.ClickException("ENV is PROD: the development server is never for production; use `serve`")
    os.environ.setdefault("APP_DEBUG", "true")
    reloading = os.environ.get("WERKZEUG_RUN_MAIN") == "true"  # the reloader's child process
    if not no_migrate and not reloading:
        _quiet_upgrade()

    from flask_keel import create_app
    from flask_keel.realtime import socketio_of

    app = create_app()
    app.config.update(DEBUG=True, TEMPLATES_AUTO_RELOAD=True)
    if reloading:  # the process that serves, not the one that watches files
        from flask_keel.jobs.embedded import start_in_dev_server

        start_in_dev_server(app)
    # Set by Flask's command line, where app.run() refuses to block; this command is the run.
    os.environ.pop("FLASK_RUN_FROM_CLI", None)
    app.debug = True
    extra = [str(path) for folder in ("config",) for path in (settings.root / folder).glob("*.yml")]
    host = host or os.environ.get("BIND_ADDRESS") or "127.0.0.1"
    port = port or settings.server.BIND.PORT
    # The app writes its own access line per request; Werkzeug's own lines would double them.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    if reloading:
        click.echo(f"serving http://{host}:{port} (debugger on; reloads as files change)", err=True)
    # Polled every 0.3 s (stat() of each imported file, a few ms): an edit is seen at
    # once rather than after Werkzeug's default second, and the restart takes the rest.
    socketio_of(app).run(app, host=host, port=port, debug=True, use_reloader=True,
                         reloader_type="stat" if poll else "auto", reloader_interval=0.3,
                         extra_files=extra, allow_unsafe_werkzeug=True)


def _quiet_upgrade() -> None:
    """`flask db upgrade`, saying only which revisions it applied."""
    from flask_migrate import upgrade

    from flask_keel import create_app
    from flask_keel.cli.db import ensure_migrate

    applied: list[str] = []

    class Applied(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage().startswith("Running upgrade"):
                applied.append(record.getMessage().removeprefix("Running upgrade "))

    migration_log = logging.getLogger("alembic.runtime.migration")
    quiet = ("alembic", "alembic.runtime.migration", "alembic.env", "flask_keel.db.locks", "flask_migrate")
    levels = {name: logging.getLogger(name).level for name in quiet}
    propagate = migration_log.propagate
    handler = Applied()
    app = create_app()
    for name in quiet:
        logging.getLogger(name).setLevel(logging.WARNING)
    migration_log.setLevel(logging.INFO)
    migration_log.propagate = False
    migration_log.addHandler(handler)
    try:
        with app.app_context():
            ensure_migrate()
            upgrade()
    finally:
        migration_log.removeHandler(handler)
        migration_log.propagate = propagate
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
    for line in applied:
        click.echo(f"schema: applied {line}", err=True)
