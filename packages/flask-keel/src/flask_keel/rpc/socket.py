"""The Socket.IO `rpc` event: `emit("rpc", {"name": ..., "payload": ...}, callback)`.

The ack is `{"ok": true, "result": ...}` or `{"ok": false, "status": 4xx/5xx,
"error": CODE, "message": ..., "request_id": ...}`. A view that raises is
logged with its traceback and answered with status 500; the connection and
the server carry on.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.exc import DataError, DBAPIError
from werkzeug.exceptions import BadRequest, HTTPException, InternalServerError

from flask_keel.db.errors import Violation, as_http_error
from flask_keel.db.extension import db
from flask_keel.payloads import check_json_payload
from flask_keel.request_id import bind_request_id, new_request_id
from flask_keel.rpc.encoding import to_builtins
from flask_keel.rpc.router import dispatch, error_body

log = logging.getLogger(__name__)


def _failure(exc: HTTPException, request_id: str) -> dict[str, Any]:
    return {"ok": False, "status": exc.code, **error_body(exc, request_id)}


def handle_rpc(message: Any = None) -> dict[str, Any]:
    request_id = new_request_id()
    bind_request_id(request_id)
    try:
        if not isinstance(message, dict) or not isinstance(message.get("name"), str):
            raise BadRequest('Send {"name": "<request name>", "payload": ...}.')
        # What HTTP's JSON decoder refuses (a lone surrogate) is refused here the same way.
        check_json_payload(message.get("payload"))
        result = dispatch(message["name"], message.get("payload"), "socket")
        return {"ok": True, "result": to_builtins(result)}
    except HTTPException as exc:
        return _failure(exc, request_id)
    except (DBAPIError, OverflowError) as exc:
        # Flask's error handlers do not run for socket events: the same mapping by hand,
        # so a duplicate is a 409 here too, not a 500.
        db.session.rollback()
        mapped = as_http_error(exc, list(db.metadatas.values()))
        if mapped is None and isinstance(exc, DataError):  # as flask_keel.db.errors' DataError handler
            mapped = Violation(400, "invalid_value", (), "a value does not fit its column "
                               "(too long, out of range or of the wrong type)")
        if mapped is not None:
            return _failure(mapped, request_id)
        log.exception("rpc %r failed", message.get("name") if isinstance(message, dict) else None)
        return _failure(InternalServerError("The request failed on the server; it has been logged."), request_id)
    except Exception:  # noqa: BLE001 - a failing view must not take the connection down
        log.exception("rpc %r failed", message.get("name") if isinstance(message, dict) else None)
        return _failure(InternalServerError("The request failed on the server; it has been logged."), request_id)
