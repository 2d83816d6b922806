"""`flask realtime notify`: push an event to connected clients from the command line."""

from __future__ import annotations

import json
import sys

import click
from flask.cli import AppGroup

realtime_group = AppGroup("realtime", help="Socket.IO: push events to connected clients.")


@realtime_group.command("notify")
@click.option("--user", "user_id", type=int, default=None, help="The user id to push to.")
@click.option("--room", default=None, help="A room name to push to.")
@click.argument("event")
@click.argument("data", required=False, default="null")
def notify_command(user_id: int | None, room: str | None, event: str, data: str) -> None:
    """Push EVENT with DATA (JSON) to a user, a room or (neither given) everyone.

    The app's server processes get it through the Redis message queue, so
    SERVICES.redis must be set.
    """
    from flask_keel.extensions import current_settings
    from flask_keel.realtime import emitter

    try:
        payload = json.loads(data)
    except json.JSONDecodeError as exc:
        click.echo(f"error: DATA is not JSON: {exc}", err=True)
        sys.exit(2)
    try:
        sender = emitter(current_settings())
    except RuntimeError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    if user_id is not None or room is not None:
        sender.notify(room if room is not None else user_id, event, payload)
    else:
        sender.broadcast(event, payload)
    click.echo(f"sent {event} to {room or (f'user {user_id}' if user_id is not None else 'everyone')}")
