"""Logging: where lines go (stdout or a rotating file), their format (text or
JSON), a request id on every line logged during a request, and one access line
per request.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import re
import sys
import time
import uuid
from typing import TYPE_CHECKING

from flask import Flask, g, has_request_context, request, request_finished

if TYPE_CHECKING:
    from flask import Response

    from app.config import Settings

REQUEST_ID_HEADER = "X-Request-ID"
# An incoming id is kept only when it is short and plain, so a client cannot
# inject newlines or markup into logs and response headers.
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_HANDLER_NAME = "app.log-handler"

access_log = logging.getLogger("app.access")


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record ("-" outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
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
    handler.setFormatter(JsonFormatter() if log.FORMAT == "json" else logging.Formatter(TEXT_FORMAT))
    root.addHandler(handler)
    root.setLevel(log.LEVEL)


def register_request_logging(app: Flask) -> None:
    """Give each request an id (kept from X-Request-ID when valid) and log one access line."""

    def start_request() -> None:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        g.request_started = time.perf_counter()

    def tag_response(response: Response) -> Response:
        response.headers[REQUEST_ID_HEADER] = g.get("request_id") or uuid.uuid4().hex
        return response

    def log_access(sender: Flask, response: Response, **_extra) -> None:
        # Sent after the session is saved, so the line shows the status the client got.
        if not access_log.isEnabledFor(logging.INFO):
            return
        started = g.get("request_started")
        duration_ms = round((time.perf_counter() - started) * 1000, 2) if started else 0.0
        access_log.info(
            '%s "%s %s" %s %sms', request.remote_addr, request.method, request.full_path.rstrip("?"),
            response.status_code, duration_ms,
            extra={"method": request.method, "path": request.path, "status": response.status_code,
                   "duration_ms": duration_ms, "remote_addr": request.remote_addr,
                   "bytes": response.calculate_content_length()},
        )

    # First in line, so the user's middleware and views log with the id already set.
    app.before_request_funcs.setdefault(None, []).insert(0, start_request)
    app.after_request(tag_response)
    request_finished.connect(log_access, app, weak=False)
