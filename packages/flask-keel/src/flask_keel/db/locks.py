"""A lock held while migrations run, so containers that start together never race.

MySQL/MariaDB: GET_LOCK on the server (released when the connection closes, so
a killed process never leaves it held). PostgreSQL: an advisory lock. SQLite: an
exclusive flock on a file beside the database.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine, text

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 300


class MigrationLockTimeout(RuntimeError):
    pass


def _lock_name(engine: Engine) -> str:
    return f"migrations:{engine.url.database or 'default'}"[:64]


@contextlib.contextmanager
def _mysql_lock(engine: Engine, timeout: int) -> Iterator[None]:
    name = _lock_name(engine)
    with engine.connect() as connection:
        log.info("waiting for the migration lock %r on %s", name, engine.url.host)
        if connection.scalar(text("SELECT GET_LOCK(:name, :timeout)"), {"name": name, "timeout": timeout}) != 1:
            raise MigrationLockTimeout(f"another process held the migration lock {name!r} for {timeout}s")
        try:
            yield
        finally:
            connection.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": name})


@contextlib.contextmanager
def _postgres_lock(engine: Engine, timeout: int) -> Iterator[None]:
    key = int.from_bytes(hashlib.sha256(_lock_name(engine).encode()).digest()[:8], "big", signed=True)
    with engine.connect() as connection:
        deadline = time.monotonic() + timeout
        while not connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}):
            if time.monotonic() > deadline:
                raise MigrationLockTimeout(f"another process held the migration lock for {timeout}s")
            time.sleep(0.5)
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})


@contextlib.contextmanager
def _file_lock(path: Path, timeout: int) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with os.fdopen(os.open(path, os.O_CREAT | os.O_RDWR, 0o600), "r+") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise MigrationLockTimeout(f"another process held {path} for {timeout}s") from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def engine_lock(engine: Engine, timeout: int = DEFAULT_TIMEOUT) -> contextlib.AbstractContextManager[None]:
    dialect = engine.dialect.name
    if dialect in ("mysql", "mariadb"):
        return _mysql_lock(engine, timeout)
    if dialect == "postgresql":
        return _postgres_lock(engine, timeout)
    if dialect == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        return _file_lock(Path(f"{engine.url.database}.migrate.lock"), timeout)
    log.warning("no migration lock for %s databases; run one upgrade at a time", dialect)
    return contextlib.nullcontext()


@contextlib.contextmanager
def migration_lock(engines: list[Engine], timeout: int = DEFAULT_TIMEOUT) -> Iterator[None]:
    """Hold every database's lock, always taken in the same order (no deadlock)."""
    with contextlib.ExitStack() as stack:
        for engine in sorted(engines, key=lambda engine: str(engine.url)):
            stack.enter_context(engine_lock(engine, timeout))
        yield
