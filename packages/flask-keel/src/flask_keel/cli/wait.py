"""`flask wait-for-services`: wait until every configured database and service answers.

The container entrypoint runs it before migrating: MySQL, Redis and memcached
may start more slowly than the app. Waits with backoff up to --timeout, saying
what it waits for, then exits 1 naming each host and port that never answered.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import click


@dataclass
class Dependency:
    name: str
    address: str
    probe: Callable[[], None]


def _dependencies(settings) -> list[Dependency]:
    from flask_keel.db.engines import create_database_engine, ping
    from flask_keel.services import memcached_client, redis_client

    found: list[Dependency] = []
    for name, entry in settings.databases.items():
        if entry.driver.startswith("sqlite"):
            continue
        engine = create_database_engine(name, entry, settings)

        def ping_once(engine=engine) -> None:
            ping(engine)
            engine.dispose()

        found.append(Dependency(f"database {name}", f"{entry.address}:{entry.port or engine.url.port or 'default'}",
                                ping_once))
    redis = redis_client(settings)
    if redis is not None:
        address = settings.redis.URL.split("@")[-1] if settings.redis.URL else \
            f"{settings.redis.HOST}:{settings.redis.PORT}"
        found.append(Dependency("redis", address, redis.ping))
    memcached = memcached_client(settings)
    if memcached is not None:
        found.append(Dependency("memcached", f"{settings.memcached.HOST}:{settings.memcached.PORT}",
                                memcached.version))
    return found


@click.command("wait-for-services")
@click.option("--timeout", default=60.0, show_default=True, help="Seconds to wait for everything in all.")
def wait_command(timeout: float) -> None:
    """Wait until every configured database, Redis and memcached answers."""
    from flask_keel.cli.common import settings_or_exit

    settings = settings_or_exit()
    deadline = time.monotonic() + timeout
    pending = _dependencies(settings)
    delay = 0.5
    attempt = 0
    while pending:
        attempt += 1
        still: list[Dependency] = []
        for dependency in pending:
            try:
                dependency.probe()
            except Exception as exc:  # noqa: BLE001 - any failure means "not yet"
                still.append(dependency)
                click.echo(f"waiting for {dependency.name} at {dependency.address} "
                           f"(attempt {attempt}: {type(exc).__name__}: {str(exc)[:120]})", err=True)
            else:
                click.echo(f"{dependency.name} at {dependency.address} is up", err=True)
        pending = still
        if not pending:
            break
        if time.monotonic() + delay > deadline:
            for dependency in pending:
                click.echo(f"error: {dependency.name} at {dependency.address} did not answer within {timeout:g}s",
                           err=True)
            sys.exit(1)
        time.sleep(delay)
        delay = min(delay * 2, 5.0)
    click.echo("all services answer", err=True)
