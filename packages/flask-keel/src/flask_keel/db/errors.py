"""Turning database constraint errors into 4xx answers that name the field.

A controller that inserts a duplicate username or a course for a teacher that
does not exist need not catch anything: the session is rolled back (nothing of
the request is written) and the client gets 409 naming the field.
"""

from __future__ import annotations

import logging
import re

from flask import Flask, request
from sqlalchemy import MetaData
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable

from flask_keel.errors import render_error
from flask_keel.throttled_log import ThrottledLog

log = logging.getLogger(__name__)

# MySQL/MariaDB error codes carried in the DBAPI exception's args[0].
MYSQL_DUPLICATE = 1062
MYSQL_MISSING_PARENT = 1452
MYSQL_ROW_REFERENCED = 1451
MYSQL_NOT_NULL = 1048

_MYSQL_KEY = re.compile(r"for key '(?:[^'.]+\.)?([^']+)'")
_MYSQL_FK_COLUMNS = re.compile(r"FOREIGN KEY \(([^)]*)\)")
_SQLITE_COLUMNS = re.compile(r"constraint failed: (.+)$")


# MySQL/MariaDB codes meaning "unreachable, overloaded or contended: retry".
TRANSIENT_MYSQL_CODES = {1040, 1053, 1205, 1213, 2002, 2003, 2006, 2013, 2055}
# Codes meaning "the server refused our login": a wrong password, a missing grant or
# database, an authentication method the client cannot complete. Not a bug in a view:
# the database is unavailable to this app until an operator fixes the credentials, so
# the answer is the same 503, and the log names the cause.
REFUSED_MYSQL_CODES = {1044, 1045, 1049, 1129, 1130, 1251, 1820, 2059, 2061, 3118}
TRANSIENT_SQLITE_TEXT = ("database is locked", "unable to open database file", "disk I/O error")


def is_transient(exc: BaseException) -> bool:
    """True for outages and contention, False for errors in the SQL or the schema."""
    if isinstance(exc, PoolTimeout) or getattr(exc, "connection_invalidated", False):
        return True
    original = getattr(exc, "orig", None)
    args = getattr(original, "args", ())
    if args and isinstance(args[0], int):
        return args[0] in TRANSIENT_MYSQL_CODES or args[0] in REFUSED_MYSQL_CODES
    text = str(original or exc)
    return any(marker in text for marker in TRANSIENT_SQLITE_TEXT) or isinstance(exc, InterfaceError)


class DatabaseUnavailable(ServiceUnavailable):
    error_code = "database_unavailable"
    description = "The database is unavailable right now. Please try again in a few seconds."

    def get_headers(self, environ=None, scope=None):
        return [*super().get_headers(environ, scope), ("Retry-After", "5")]


class Violation(HTTPException):
    """A refused write, answered like any HTTP error (JSON or the error page)."""

    def __init__(self, status: int, error: str, fields: tuple[str, ...], message: str):
        super().__init__(message)
        self.code = status
        self.error_code = error
        self.fields = fields
        self.field = fields[0] if len(fields) == 1 else (list(fields) or None)

    @property
    def name(self) -> str:  # the page title
        return "Conflict" if self.code == 409 else "Bad Request"


def _constraint_columns(metadata_sets: list[MetaData], name: str) -> tuple[str, ...]:
    for metadata in metadata_sets:
        for table in metadata.tables.values():
            for constraint in (*table.constraints, *table.indexes):
                if constraint.name == name:
                    return tuple(column.name for column in constraint.columns)
    return ()


def describe(exc: IntegrityError, metadata_sets: list[MetaData]) -> Violation:
    original = exc.orig
    code = original.args[0] if getattr(original, "args", None) and isinstance(original.args[0], int) else None
    text = str(original.args[1] if code is not None and len(original.args) > 1 else original)

    if code == MYSQL_DUPLICATE or "UNIQUE constraint failed" in text:
        if code == MYSQL_DUPLICATE:
            match = _MYSQL_KEY.search(text)
            fields = _constraint_columns(metadata_sets, match.group(1)) if match else ()
        else:
            match = _SQLITE_COLUMNS.search(text)
            fields = tuple(part.strip().split(".")[-1] for part in match.group(1).split(",")) if match else ()
        names = " and ".join(fields) or "a unique value"
        return Violation(409, "duplicate", fields, f"{names}: this value is already taken")

    if code == MYSQL_MISSING_PARENT or (code is None and "FOREIGN KEY constraint failed" in text):
        match = _MYSQL_FK_COLUMNS.search(text)
        fields = tuple(part.strip(" `") for part in match.group(1).split(",")) if match else ()
        names = " and ".join(fields) or "a reference"
        return Violation(409, "missing_reference", fields, f"{names}: refers to a record that does not exist")

    if code == MYSQL_ROW_REFERENCED:
        return Violation(409, "still_referenced", (), "other records still refer to this one")

    if code == MYSQL_NOT_NULL or "NOT NULL constraint failed" in text:
        match = re.search(r"Column '([^']+)'", text) or _SQLITE_COLUMNS.search(text)
        fields = (match.group(1).split(".")[-1],) if match else ()
        return Violation(400, "missing_value", fields, f"{' and '.join(fields) or 'a value'}: is required")

    return Violation(409, "conflict", (), "the change conflicts with existing data")


def number_too_large() -> Violation:
    return Violation(400, "invalid_value", (), "a number is too large for the database")


def as_http_error(exc: Exception, metadata_sets: list[MetaData]) -> HTTPException | None:
    """The HTTP error a database exception stands for, or None when it is a server bug."""
    if isinstance(exc, OverflowError):
        return number_too_large()
    if isinstance(exc, IntegrityError):
        return describe(exc, metadata_sets)
    if isinstance(exc, (OperationalError, InterfaceError, PoolTimeout)) and is_transient(exc):
        return DatabaseUnavailable()
    return None


def register_database_error_handlers(app: Flask) -> None:
    from flask_keel.db.extension import db

    @app.errorhandler(IntegrityError)
    def integrity_error(exc: IntegrityError):
        db.session.rollback()
        violation = describe(exc, list(db.metadatas.values()))
        log.info("refused write: %s (%s)", violation.description, exc.orig)
        return render_error(violation)

    outage = ThrottledLog("database", logger=log)

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    @app.errorhandler(PoolTimeout)
    def database_unavailable(exc: DBAPIError | PoolTimeout):
        try:
            db.session.rollback()
        except DBAPIError:
            pass
        if not is_transient(exc):
            # A missing table or column is a bug to fix, not an outage to wait out.
            log.error("database error on %s %s", request.method, request.path, exc_info=exc)
            return render_error(InternalServerError())
        outage.failure(getattr(exc, "orig", None) or exc)
        return render_error(DatabaseUnavailable())

    @app.after_request
    def database_back(response):
        if outage.failures and response.status_code < 500:
            outage.success()
        return response

    @app.errorhandler(OverflowError)
    def overflow(exc: OverflowError):
        # SQLite's driver refuses integers past 64 bits before SQL runs (MySQL answers a
        # DataError or no row): whatever the client sent that far, it is its value.
        db.session.rollback()
        log.info("refused value: %s", exc)
        return render_error(number_too_large())

    @app.errorhandler(DataError)
    def data_error(exc: DataError):
        db.session.rollback()
        log.info("refused write: %s", exc.orig)
        return render_error(Violation(400, "invalid_value", (), "a value does not fit its column "
                                      "(too long, out of range or of the wrong type)"))
