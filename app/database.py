"""SQLAlchemy engines for the DATABASE section, one per named database."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL

if TYPE_CHECKING:
    from app.config import Settings
    from app.config.schema import Database

# Below MySQL's default wait_timeout (8 h) and below what most proxies allow, so a
# pooled connection is renewed before the server drops it.
MYSQL_POOL_RECYCLE = 280


def database_url(entry: Database, settings: Settings) -> URL:
    """The SQLAlchemy URL of one DATABASE entry. URL.create quotes user and password."""
    if entry.driver.startswith("sqlite"):
        name = entry.database or ":memory:"
        if name != ":memory:" and not name.startswith("file:"):
            path = settings.path(name)
            path.parent.mkdir(parents=True, exist_ok=True)
            name = str(path)
        return URL.create(entry.driver, database=name, query=_query(entry.params))
    return URL.create(
        entry.driver,
        username=entry.user or None,
        password=entry.password or None,
        host=entry.address or None,
        port=entry.port,
        database=entry.database or None,
        query=_query(entry.params),
    )


def _query(params: dict[str, Any]) -> dict[str, str]:
    return {str(key): str(value) for key, value in params.items()}


def engine_options(entry: Database) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if entry.driver.startswith("mysql"):
        options.update(pool_pre_ping=True, pool_recycle=MYSQL_POOL_RECYCLE, pool_timeout=5,
                       connect_args={"connect_timeout": 5, "charset": "utf8mb4"})
    elif entry.driver.startswith("sqlite"):
        # Requests may run on different greenlets or threads than the one that opened the file.
        options.update(connect_args={"check_same_thread": False, "timeout": 5})
    options.update(entry.engine)
    return options


def create_engines(settings: Settings) -> dict[str, Engine]:
    """Engines for every configured database. Nothing connects until first use."""
    return {name: create_engine(database_url(entry, settings), **engine_options(entry))
            for name, entry in settings.databases.items()}


def sqlite_file(url: URL) -> Path | None:
    return Path(url.database) if url.get_backend_name() == "sqlite" and url.database else None
