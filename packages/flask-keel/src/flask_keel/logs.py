"""Logging: where lines go (stdout or a rotating file), their format (text or
JSON), and the request id on every line logged during a request. The access
line of each request is written by app.access_log.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import re
import sys
import time
from typing import TYPE_CHECKING

from flask_keel.request_id import current_request_id
from flask_keel.workers import worker_processes

if TYPE_CHECKING:
    from flask_keel.config import Settings

_HANDLER_NAME = "app.log-handler"


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record ("-" outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers."""

    _EXTRA = ("request_id", "method", "path", "status", "duration_ms", "remote_addr", "bytes")

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({key: getattr(record, key) for key in self._EXTRA if hasattr(record, key)})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


TEXT_FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"
# What could end a line early, rewrite the terminal or hide text: C0 and C1 controls,
# DEL, and the Unicode line and paragraph separators.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_BUT_NEWLINE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
TRACEBACK_PREFIX = "  | "


def _escape_one(match: re.Match[str]) -> str:
    char = match.group()
    return _NAMED.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")


def escape_controls(text: str) -> str:
    """`text` on one line: control characters written as escapes (\\n, \\x1b, ...)."""
    return _CONTROL.sub(_escape_one, text) if _CONTROL.search(text) else text


class TextFormatter(logging.Formatter):
    """TEXT_FORMAT, one line per record whatever clients put in a path or a header.

    Messages are escaped (a `%0A` in a request path cannot start a fake line, an
    ESC cannot recolour the terminal). A traceback follows on lines of its own,
    each starting with TRACEBACK_PREFIX, so none can pass for a record. The date
    is formatted once per second rather than once per line.
    """

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)
        self._cached = (-1, "")  # (second, its date): one tuple, so threads never see half an update

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 - logging's name
        second = int(record.created)
        cached_second, date = self._cached
        if second != cached_second:
            date = time.strftime("%Y-%m-%d %H:%M:%S", self.converter(second))
            self._cached = (second, date)
        return f"{date},{int(record.msecs):03d}"

    def format(self, record: logging.LogRecord) -> str:
        record.message = escape_controls(record.getMessage())
        record.asctime = self.formatTime(record)
        line = self.formatMessage(record)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        extra = [part for part in (record.exc_text, record.stack_info and self.formatStack(record.stack_info))
                 if part]
        for part in extra:
            part = _CONTROL_BUT_NEWLINE.sub(_escape_one, part)
            line += "".join(f"\n{TRACEBACK_PREFIX}{text}" for text in part.splitlines())
        return line


def configure_logging(settings: Settings) -> None:
    """Route the root logger to stdout or LOG.DIR/app.log, once per process."""
    log = settings.server.LOG
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == _HANDLER_NAME:
            root.removeHandler(handler)
            handler.close()
    if log.DIR:
        directory = settings.path(log.DIR)
        directory.mkdir(parents=True, exist_ok=True)
        if worker_processes(settings)[0] > 1:
            # Several workers rotating one file overwrite each other's backups: they
            # append, and logrotate (or the platform) rotates; reopened when moved.
            handler: logging.Handler = logging.handlers.WatchedFileHandler(directory / "app.log", encoding="utf-8")
        else:
            handler = logging.handlers.RotatingFileHandler(
                directory / "app.log", maxBytes=10 * 1024 * 1024, backupCount=5, encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stdout)
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if log.FORMAT == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(log.LEVEL)
