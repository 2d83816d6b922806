"""`flask serve` / `python -m app serve`: run the app under gunicorn."""

from __future__ import annotations

import os
import sys

import click

from flask_keel.cli.common import settings_or_exit


@click.command("serve", context_settings={"ignore_unknown_options": True})
@click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None,
              help="Config file (default: APP_CONFIG, else config/config.yml).")
@click.option("--bind", "-b", default=None, help="Override SERVER_ENV.BIND, as HOST:PORT.")
@click.argument("gunicorn_args", nargs=-1, type=click.UNPROCESSED)
def serve_command(config_file: str | None, bind: str | None, gunicorn_args: tuple[str, ...]) -> None:
    """Run gunicorn with the worker class, bind and counts from SERVER_ENV.

    Extra arguments go to gunicorn as they are. The process is replaced by
    gunicorn, so signals (SIGTERM for a graceful stop) reach it directly.
    """
    if config_file:
        os.environ["APP_CONFIG"] = os.path.abspath(config_file)
    settings = settings_or_exit()
    os.chdir(settings.root)
    # gunicorn reads WEB_CONCURRENCY itself, as an int, before any config: empty or
    # "auto" (what compose passes to mean SERVER_ENV.PROCESSES' auto) would stop it.
    # The config has read it already; gunicorn gets the count from flask_keel.gunicorn_conf.
    if not os.environ.get("WEB_CONCURRENCY", "1").strip().isdigit():
        del os.environ["WEB_CONCURRENCY"]
    command = [sys.executable, "-m", "gunicorn", "--config", "python:flask_keel.gunicorn_conf"]
    if bind:
        command += ["--bind", bind]
    command += [*gunicorn_args, "flask_keel.wsgi:application"]
    sys.stdout.flush()
    os.execv(sys.executable, command)  # noqa: S606 - replacing this process with gunicorn is the point
