"""`flask config render | show | check`.

A Flask plugin group, so it runs without building the app: it works, and
explains itself, even when the config is broken.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click
import yaml

from flask_keel.cli.common import settings_or_exit
from flask_keel.config.checks import deploy_findings
from flask_keel.config.placeholders import escape
from flask_keel.config.redact import redact

config_option = click.option(
    "--config", "config_file", type=click.Path(dir_okay=False), default=None,
    help="Config file (default: APP_CONFIG, else config/config.yml).")


def _escaped(tree: Any) -> Any:
    """Resolved strings, written so that loading the file again reads them back as they are."""
    if isinstance(tree, dict):
        return {key: _escaped(value) for key, value in tree.items()}
    if isinstance(tree, list):
        return [_escaped(value) for value in tree]
    return escape(tree) if isinstance(tree, str) else tree


def _dump(tree: Any) -> str:
    return yaml.safe_dump(tree, sort_keys=False, default_flow_style=False, allow_unicode=True)


@click.group("config", help="Render, show and check the application config.")
def config_group() -> None:
    pass


@config_group.command("render")
@config_option
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write to this file (mode 0600) instead of stdout.")
def render(config_file: str | None, output: str | None) -> None:
    """Write the fully resolved config: every ${VAR} substituted, every default filled in."""
    settings = settings_or_exit(config_file)
    text = (f"# Rendered from {settings.source} by `flask config render`.\n"
            "# It holds secrets: keep it out of version control and images.\n" + _dump(_escaped(settings.to_tree())))
    if output is None:
        click.echo(text, nl=False)
        return
    path = Path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, 0o600)
    click.echo(f"wrote {path}", err=True)


@config_group.command("show")
@config_option
def show(config_file: str | None) -> None:
    """Print the effective config with secrets redacted."""
    settings = settings_or_exit(config_file)
    click.echo(f"# {settings.source}")
    click.echo(_dump(redact(settings.to_tree())), nl=False)


@config_group.command("check")
@config_option
def check(config_file: str | None) -> None:
    """Validate the config; with ENV=PROD also refuse unsafe production settings."""
    settings = settings_or_exit(config_file)
    findings = deploy_findings(settings)
    if settings.is_production and findings:
        for finding in findings:
            click.echo(f"error: {settings.source}: {finding}", err=True)
        sys.exit(1)
    for finding in findings:
        click.echo(f"warning: {settings.source}: {finding} (an error when ENV is PROD)", err=True)
    click.echo(f"ok: {settings.source} is valid (ENV={settings.server.ENV})")
