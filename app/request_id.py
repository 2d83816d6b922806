"""The id of the request being served: kept from X-Request-ID when it is plain,
otherwise made up; in every log line, error body and the response header.
"""

from __future__ import annotations

import os
import re
from contextvars import ContextVar
from typing import Any

from flask.ctx import _AppCtxGlobals

REQUEST_ID_HEADER = "X-Request-ID"
# An incoming id is kept only when it is short and plain, so a client cannot
# inject newlines or markup into logs and response headers.
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

# Per greenlet (or thread): set by the access log middleware for each request.
_request_id: ContextVar[str] = ContextVar("request_id", default="-")


def request_id_for(incoming: str | None) -> str:
    """The client's id when it is acceptable, else a new random one."""
    return incoming if incoming and _VALID_REQUEST_ID.match(incoming) else os.urandom(16).hex()


def current_request_id() -> str:
    """The id of the request being served ("-" outside one)."""
    return _request_id.get()


def bind_request_id(request_id: str) -> Any:
    """Give the work running now (a request, a Socket.IO event's greenlet) its id.

    Returns a token for `unbind_request_id`.
    """
    return _request_id.set(request_id)


def unbind_request_id(token: Any) -> None:
    _request_id.reset(token)


class RequestGlobals(_AppCtxGlobals):
    """`g` with `g.request_id` read from the request being served, as user code expects."""

    @property
    def request_id(self) -> str:
        return self.__dict__.get("_request_id") or _request_id.get()

    @request_id.setter
    def request_id(self, value: str) -> None:
        self.__dict__["_request_id"] = value

    def get(self, name: str, default: Any = None) -> Any:
        if name == "request_id":
            return self.request_id
        return super().get(name, default)
