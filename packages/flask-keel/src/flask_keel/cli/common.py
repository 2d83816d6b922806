"""What the commands share."""

from __future__ import annotations

import sys

import click

from flask_keel.config import ConfigError, Settings, load_settings


def settings_or_exit(config_file: str | None = None) -> Settings:
    """The settings, or each config problem on its own line and exit status 2."""
    try:
        return load_settings(config_file)
    except ConfigError as exc:
        for line in exc.problems:
            click.echo(f"error: {line}", err=True)
        sys.exit(2)
