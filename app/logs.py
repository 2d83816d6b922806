"""Logging: where lines go (stdout or a rotating file), their format (text or
JSON), and the request id on every line logged during a request. The access
line of each request is written by app.access_log.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import sys
import time
from typing import TYPE_CHECKING

from app.request_id import current_request_id

if TYPE_CHECKING:
    from app.config import Settings

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


class TextFormatter(logging.Formatter):
    """TEXT_FORMAT, with the date formatted once per second rather than once per line."""

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
        if settings.server.PROCESSES > 1:
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
