"""SQLAlchemy engines for the DATABASE section, one per named database."""

from __future__ import annotations

import logging
import math
import os
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DisconnectionError

from flask_keel.db.mysql_tls import share_preferred_tls_context
from flask_keel.workers import worker_processes

if TYPE_CHECKING:
    from flask_keel.config import Settings
    from flask_keel.config.schema import Database

log = logging.getLogger(__name__)

# Below MySQL's default wait_timeout (8 h) and the idle limits of most proxies, so
# a pooled connection is renewed before the server drops it.
MYSQL_POOL_RECYCLE = 280
MYSQL_DEFAULTS: dict[str, Any] = {
    "pool_recycle": MYSQL_POOL_RECYCLE,
    # A gevent worker runs hundreds of requests at once and each holds its connection
    # until it ends: 40 connections per instance absorb bursts, shared out between its
    # workers (pool_for_workers), so one per CPU never multiplies them past MySQL's
    # default of 151 (lower it when running many replicas). No overflow: the pool
    # closes overflow connections as they come back, so under sustained load every
    # request past pool_size would open (and TLS-negotiate) a connection of its own.
    "pool_size": 40,
    "max_overflow": 0,
    # Bounded: past this a request answers 503 rather than waiting without end.
    "pool_timeout": 10,
}

# Instead of pool_pre_ping (a round trip before every request): a connection idle
# for longer than this is pinged when it leaves the pool; one in steady use is
# not. If the server went away meanwhile, the first query fails (503), and
# SQLAlchemy then replaces every connection older than the failure.
IDLE_PING_SECONDS = 1.0

_WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE|MERGE|CREATE|DROP|ALTER|TRUNCATE|RENAME|GRANT|REVOKE)\b",
                    re.IGNORECASE)


class ReadOnlyDatabaseError(RuntimeError):
    """A write was attempted on a database configured with `readonly: true`."""


def database_url(entry: Database, settings: Settings) -> URL:
    """The SQLAlchemy URL of one DATABASE entry. URL.create quotes user and password."""
    if entry.driver.startswith("sqlite"):
        name = entry.database or ":memory:"
        if name != ":memory:" and not name.startswith("file:"):
            path = settings.path(name)
            path.parent.mkdir(parents=True, exist_ok=True)
            _create_private(path)
            name = str(path)
        return URL.create(entry.driver, database=name, query=_query(entry.params))
    query = _query(entry.params)
    if entry.driver.startswith("mysql"):
        query.setdefault("charset", "utf8mb4")
    return URL.create(
        entry.driver,
        username=entry.user or None,
        password=entry.password or None,
        host=entry.address or None,
        port=entry.port,
        database=entry.database or None,
        query=query,
    )


def _create_private(path: Path) -> None:
    """Create a new SQLite file readable by its owner only: it holds password hashes.
    SQLite gives its journal and WAL files the database file's permissions."""
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        pass


def _query(params: dict[str, Any]) -> dict[str, str]:
    return {str(key): str(value) for key, value in params.items()}


def engine_options(entry: Database) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if entry.driver.startswith("mysql"):
        options.update(MYSQL_DEFAULTS, connect_args={"connect_timeout": 5})
    elif entry.driver.startswith("sqlite"):
        # Requests may run on other greenlets or threads than the one that opened the file.
        options.update(connect_args={"check_same_thread": False, "timeout": 5})
    options.update(entry.engine)
    return options


# Connections a worker keeps at least, however many workers share an instance's pool.
MIN_POOL_PER_WORKER = 8


def pool_for_workers(pool_size: int, workers: int) -> int:
    """One worker's share of an instance's pool: each serves 1/workers of its requests."""
    return max(MIN_POOL_PER_WORKER, math.ceil(pool_size / workers))


def create_database_engine(name: str, entry: Database, settings: Settings) -> Engine:
    options = engine_options(entry)
    if entry.driver.startswith("mysql") and "pool_size" not in entry.engine:
        options["pool_size"] = pool_for_workers(options["pool_size"], worker_processes(settings)[0])
    one_rollback = not entry.driver.startswith("sqlite") and "pool_reset_on_return" not in options
    if one_rollback:
        options["pool_reset_on_return"] = None  # _one_rollback_per_checkin does the reset
    engine = create_engine(database_url(entry, settings), **options)
    if one_rollback:
        _one_rollback_per_checkin(engine)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas(entry.readonly))
        event.listen(engine, "begin", _sqlite_begin)
    if engine.dialect.name == "mysql":
        event.listen(engine, "first_connect", _check_recycle(name, engine))
        share_preferred_tls_context(engine)
        _driver_errors_as_operational(engine)
        if not options.get("pool_pre_ping"):  # a user who asks for it gets a ping every time
            _ping_when_idle(engine)
    if entry.readonly:
        _guard_readonly(name, engine)
    return engine


def _driver_errors_as_operational(engine: Engine) -> None:
    """A login the driver cannot complete is the database refusing us, like a wrong password.

    PyMySQL raises a bare RuntimeError when MySQL 8's caching_sha2_password needs
    `cryptography` and it is missing (the `pymysql[rsa]` extra), which would pass
    SQLAlchemy's error handling by and answer 500; as an OperationalError it gets
    the 503 and the log line every refused login gets (flask_keel.db.errors).
    """
    connect = engine.dialect.connect
    errors = engine.dialect.loaded_dbapi

    def connect_or_refuse(*cargs: Any, **cparams: Any) -> Any:
        try:
            return connect(*cargs, **cparams)
        except RuntimeError as exc:
            raise errors.OperationalError(AUTH_PLUGIN_FAILED, f"the login could not be completed: {exc}") from exc

    engine.dialect.connect = connect_or_refuse  # type: ignore[method-assign]


# MySQL's CR_AUTH_PLUGIN_CANNOT_LOAD: the client side of an authentication method failed.
AUTH_PLUGIN_FAILED = 2059


_ENDED = "transaction_ended"


def _one_rollback_per_checkin(engine: Engine) -> None:
    """Roll a connection back once when it returns to the pool, not twice.

    A request's session, closing, rolls its transaction back; then the pool, on
    check-in, rolled the same connection back again (SQLAlchemy skips that only
    when Connection.close itself ended the transaction, not on the ORM's path):
    a second round trip to the database on every request that used it. Here the
    pool's reset (rollback on return) is done by an event instead: a connection
    whose last transaction SQLAlchemy ended, successfully, with nothing begun
    since, goes back as it is; any other (raw DBAPI use, a failed rollback) is
    rolled back as before, and invalidated if that fails.
    """
    dialect = engine.dialect
    do_rollback, do_commit = dialect.do_rollback, dialect.do_commit

    def ended(finish):
        def finish_and_mark(dbapi_connection) -> None:
            finish(dbapi_connection)
            try:  # a pooled connection; not the bare one of the dialect's first connect
                info = dbapi_connection.info
            except (AttributeError, NotImplementedError):
                return
            info[_ENDED] = True  # only once it succeeded

        return finish_and_mark

    dialect.do_rollback, dialect.do_commit = ended(do_rollback), ended(do_commit)  # type: ignore[method-assign]

    def began(connection) -> None:
        connection.info[_ENDED] = False

    def checked_out(_dbapi_connection, record, _proxy) -> None:
        record.info[_ENDED] = False

    def reset(dbapi_connection, record, state) -> None:
        if state.terminate_only or not state.asyncio_safe:
            return
        if not state.transaction_was_reset and not record.info.get(_ENDED):
            do_rollback(dbapi_connection)

    event.listen(engine, "begin", began)
    event.listen(engine, "checkout", checked_out)
    event.listen(engine, "reset", reset)


def _ping_when_idle(engine: Engine) -> None:
    def on_checkin(_dbapi_connection, record) -> None:
        record.info["idle_since"] = time.monotonic()

    def on_checkout(dbapi_connection, record, _proxy) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < IDLE_PING_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            # The pool drops this connection and checks out a fresh one.
            raise DisconnectionError(f"pooled connection is gone: {exc}") from exc

    event.listen(engine, "checkin", on_checkin)
    event.listen(engine, "checkout", on_checkout)


def _check_recycle(name: str, engine: Engine):
    """Warn when pooled connections would outlive the server's idle timeout."""

    def on_first_connect(dbapi_connection, _record) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SELECT @@wait_timeout")
            (wait_timeout,) = cursor.fetchone()
        recycle = engine.pool._recycle  # noqa: SLF001 - the value create_engine was given
        if recycle < 0 or recycle >= int(wait_timeout):
            log.warning("DATABASE.%s: pool_recycle (%s s) is not below the server's wait_timeout (%s s); "
                        "idle pooled connections will be dropped by the server", name, recycle, wait_timeout)

    return on_first_connect


def _sqlite_begin(connection) -> None:
    connection.exec_driver_sql("BEGIN")


def _sqlite_pragmas(readonly: bool):
    def on_connect(dbapi_connection, _record) -> None:
        # pysqlite opens transactions late and never for SAVEPOINT; SQLAlchemy's
        # recipe: let the driver autocommit and emit BEGIN ourselves ("begin" event),
        # so transactions and savepoints behave as on any other database.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # SQLite leaves foreign keys (and so ON DELETE CASCADE) off unless asked.
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA busy_timeout = 5000")
        if readonly:
            cursor.execute("PRAGMA query_only = ON")
        cursor.close()

    return on_connect


def _guard_readonly(name: str, engine: Engine) -> None:
    """Refuse writes with a clear error, and let the server refuse them too."""

    @event.listens_for(engine, "before_cursor_execute")
    def refuse_writes(_conn, _cursor, statement, _parameters, context, _executemany) -> None:
        is_dml = context is not None and (context.isinsert or context.isupdate or context.isdelete)
        if is_dml or _WRITE.match(statement):
            verb = statement.split(None, 1)[0].upper()
            raise ReadOnlyDatabaseError(
                f"database {name!r} is read-only (DATABASE.{name}.readonly: true); refused {verb}")

    if engine.dialect.name == "mysql":
        @event.listens_for(engine, "connect")
        def read_only_sessions(dbapi_connection, _record) -> None:
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SET SESSION TRANSACTION READ ONLY")


def ping(engine: Engine) -> None:
    """One round trip to the database; raises when it does not answer."""
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def create_engines(settings: Settings) -> dict[str, Engine]:
    """Engines for every configured database. Nothing connects until first use."""
    return {name: create_database_engine(name, entry, settings) for name, entry in settings.databases.items()}
