"""The `python -m app` command: Flask's CLI for this app, with its commands built in.

`flask ...` gives the same commands once the project is installed (`make` does
`pip install -e .`); `python -m app ...` works straight from a checkout.
"""

from __future__ import annotations

from flask.cli import FlaskGroup

from flask_keel.cli.config import config_group
from flask_keel.cli.db import db_group
from flask_keel.cli.dev import dev_command
from flask_keel.cli.feature import feature_group
from flask_keel.cli.jobs import jobs_group
from flask_keel.cli.openapi import openapi_command
from flask_keel.cli.realtime import realtime_group
from flask_keel.cli.serve import serve_command
from flask_keel.cli.template import template_group
from flask_keel.cli.wait import wait_command


def _create_app():
    from flask_keel.factory import create_app

    return create_app()


# load_dotenv=False: the config reads the environment (compose reads `.env`); a `.env` in
# the checkout is neither loaded into the commands nor answered with a tip on stderr.
cli = FlaskGroup(create_app=_create_app, load_dotenv=False, help="Manage and run the application.")
cli.add_command(config_group)
cli.add_command(serve_command)
cli.add_command(dev_command)
cli.add_command(db_group)
cli.add_command(feature_group)
cli.add_command(jobs_group)
cli.add_command(openapi_command)
cli.add_command(realtime_group)
cli.add_command(wait_command)
cli.add_command(template_group)


def main() -> None:
    cli.main(prog_name="python -m app")


__all__ = ["main"]
