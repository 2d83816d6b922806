"""`python -m app dev` (`make dev`): the app for development, reloading as you edit.

The schema is brought up to date first (quietly: a line per revision applied,
not Alembic's log), then the app runs on Werkzeug's development server with its
debugger (a traceback page for an error) and its reloader: a change to any Python
file under the project (Controllers/, Server/, Models/, app/) restarts the serving
process, and templates are read again as they change. The app is loaded in that
process only, and an app that fails to load (a syntax error) is served as its
traceback page until the fix, as Flask's own `flask run` does. Socket.IO runs in
threads there, websockets included.

Only for ENV DEV, and bound to 127.0.0.1 unless `--host` says otherwise: the
debugger runs code for whoever can reach it. `python -m app serve` (gunicorn) is
the server for everything else.
"""

from __future__ import annotations

import logging
import os
import traceback
from collections.abc import Callable, Iterable
from typing import Any

import click
from werkzeug.serving import is_running_from_reloader, run_simple

# A change is seen within this many seconds (a stat() of each file under the project, a few ms).
POLL_INTERVAL = 0.3


@click.command("dev")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but loopback lets others run code through the debugger.")
@click.option("--port", type=int, default=None, help="Port (default: SERVER_ENV.BIND.PORT).")
@click.option("--poll", is_flag=True, help="Watch files by polling (bind mounts that send no file events).")
@click.option("--no-migrate", is_flag=True, help="Do not bring the schema up to date first.")
def dev_command(host: str, port: int | None, poll: bool, no_migrate: bool) -> None:
    """Run the app with the debugger and code reloading (ENV DEV only)."""
    from flask_keel.cli.common import settings_or_exit
    from flask_keel.config import ConfigError, config_path, load_settings, project_root

    # Config files are watched too: the project's, and the one in use (APP_CONFIG may be elsewhere).
    extra = sorted({str(path) for path in (project_root() / "config").glob("*.yml")} | {str(config_path())})
    # The app writes its own access line per request; Werkzeug's own lines (and its
    # banner, its reload notices, the debugger's PIN) would double them or say too much.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    if is_running_from_reloader():
        try:
            load_settings()
        except ConfigError as exc:  # an edit broke the config: shown like broken code, until fixed
            _serve(host, port or 0, _failing(exc), poll, extra)
            return
    settings = settings_or_exit()
    if settings.server.ENV != "DEV":
        raise click.ClickException(f"ENV is {settings.server.ENV}: the development server and its debugger run "
                                   "only when ENV is DEV; use `serve`")
    os.environ.setdefault("APP_DEBUG", "true")
    serving = is_running_from_reloader()  # the reloader's child: the process that serves
    if serving:
        # Said once, by the first load; not again at every reload.
        logging.getLogger("app").addFilter(lambda record: not record.getMessage().startswith("APP_KEY is not set"))
        application = _load_app()
        click.echo(f"serving http://{host}:{port or settings.server.BIND.PORT} "
                   "(debugger on; reloads as files change)", err=True)
    else:
        if not no_migrate:
            _quiet_upgrade()  # its app says "APP_KEY is not set" when it is not
        elif not settings.server.APP_KEY:
            click.echo(f"APP_KEY is not set: using the development key in {settings.instance_path}", err=True)
        application = _never_served  # the watching process only binds the socket and restarts the server
    _serve(host, port or settings.server.BIND.PORT, application, poll, extra)


def _serve(host: str, port: int, application: Callable[..., Iterable[bytes]], poll: bool, extra: list[str]) -> None:
    """Werkzeug's server with its debugger and reloader. In the reloader's child the socket
    is the one the watching process bound (host and port only name it)."""
    run_simple(host, port, application, use_reloader=True, use_debugger=True, use_evalex=True, threaded=True,
               extra_files=extra, reloader_interval=POLL_INTERVAL, reloader_type="stat" if poll else "auto")


def _load_app() -> Callable[..., Iterable[bytes]]:
    """The app, or one that raises the error that stopped it from loading (the debugger's page)."""
    try:
        from flask_keel import create_app
        from flask_keel.jobs.embedded import start_in_dev_server

        app = create_app()
        app.config.update(DEBUG=True, TEMPLATES_AUTO_RELOAD=True)
        app.debug = True
        start_in_dev_server(app)
        return app
    except Exception as exc:  # noqa: BLE001 - whatever stops the user's code from loading is shown
        traceback.print_exc()
        return _failing(exc)


def _failing(error: Exception) -> Callable[..., Iterable[bytes]]:
    """An app that raises `error` for every request: the debugger shows it as a traceback page."""
    click.echo(f"dev: the app did not load ({type(error).__name__}); serving that error until a file changes",
               err=True)

    def failed(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        raise error from None

    return failed


def _never_served(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    raise RuntimeError("the reloader's watching process serves nothing")


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
