"""The Socket.IO `rpc` event: `emit("rpc", {"name": ..., "payload": ...}, callback)`.

The ack is `{"ok": true, "result": ...}` or `{"ok": false, "status": 4xx/5xx,
"error": CODE, "message": ..., "request_id": ...}`. A view that raises is
logged with its traceback and answered with status 500; the connection and
the server carry on.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from flask import g
from werkzeug.exceptions import BadRequest, HTTPException, InternalServerError

from app.rpc.encoding import to_builtins
from app.rpc.router import dispatch, error_body

log = logging.getLogger(__name__)


def _failure(exc: HTTPException, request_id: str) -> dict[str, Any]:
    return {"ok": False, "status": exc.code, **error_body(exc, request_id)}


def handle_rpc(message: Any = None) -> dict[str, Any]:
    request_id = uuid.uuid4().hex
    g.request_id = request_id
    try:
        if not isinstance(message, dict) or not isinstance(message.get("name"), str):
            raise BadRequest('Send {"name": "<request name>", "payload": ...}.')
        result = dispatch(message["name"], message.get("payload"), "socket")
        return {"ok": True, "result": to_builtins(result)}
    except HTTPException as exc:
        return _failure(exc, request_id)
    except Exception:  # noqa: BLE001 - a failing view must not take the connection down
        log.exception("rpc %r failed", message.get("name") if isinstance(message, dict) else None)
        return _failure(InternalServerError("The request failed on the server; it has been logged."), request_id)
