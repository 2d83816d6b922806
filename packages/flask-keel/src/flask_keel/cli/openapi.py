"""`flask openapi`: the API's OpenAPI document (and AsyncAPI with --asyncapi) to a file
or stdout; `--check` fails naming each JSON endpoint that has no description."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext


def render(document: dict) -> str:
    """The document as committed: indented, keys in the order built, a final newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


@click.command("openapi")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the OpenAPI document here (else stdout).")
@click.option("--asyncapi", "asyncapi_output", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the AsyncAPI document of the Socket.IO side here.")
@click.option("--check", is_flag=True, help="Fail if a JSON endpoint has no description (docstring).")
@with_appcontext
def openapi_command(output: Path | None, asyncapi_output: Path | None, check: bool) -> None:
    """Write the OpenAPI 3.1 document of the JSON endpoints and named requests."""
    from flask_keel.openapi import asyncapi_document, openapi_document, undescribed

    app = current_app._get_current_object()
    if check:
        missing = undescribed(app)
        if missing:
            raise click.ClickException("these JSON endpoints have no description (a docstring on the view):\n  "
                                       + "\n  ".join(missing))
    text = render(openapi_document(app))
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text)
    if asyncapi_output is not None:
        asyncapi_output.write_text(render(asyncapi_document(app)))
