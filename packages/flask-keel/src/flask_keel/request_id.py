"""The id of the request being served: kept from X-Request-ID when it is plain,
otherwise made up; in every log line, error body and the response header.
"""

from __future__ import annotations

import os
import random
import re
from contextvars import ContextVar
from typing import Any

from flask.ctx import _AppCtxGlobals

REQUEST_ID_HEADER = "X-Request-ID"
# An incoming id is kept only when it is short and plain, so a client cannot
# inject newlines or markup into logs and response headers.
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

# Per greenlet (or thread): set by the access log middleware for each request, and
# left set after it, so a streamed body and its close() still log with the id.
_request_id: ContextVar[str] = ContextVar("request_id")


# Ids come from a generator of their own, not os.urandom: an id must be unique, not
# secret, and the system call cost ~3% of a small JSON response. Reseeded (from
# os.urandom) in every forked worker, so workers never share a sequence; its own
# instance, so code that seeds the global `random` (tests) cannot repeat ids.
_ids = random.Random()
os.register_at_fork(after_in_child=_ids.seed)


def new_request_id() -> str:
    """A fresh id: 32 random hex digits."""
    return f"{_ids.getrandbits(128):032x}"


def request_id_for(incoming: str | None) -> str:
    """The client's id when it is acceptable, else a new random one."""
    return incoming if incoming and _VALID_REQUEST_ID.match(incoming) else new_request_id()


def current_request_id(default: str | None = "-") -> str | None:
    """The id of the request being served (`default` outside one)."""
    return _request_id.get(default)


def bind_request_id(request_id: str) -> None:
    """Give the work running now (a request, a Socket.IO event's greenlet) its id."""
    _request_id.set(request_id)


class RequestGlobals(_AppCtxGlobals):
    """`g` whose `request_id` is the served request's unless code sets its own."""

    def __getattr__(self, name: str) -> Any:
        # Only reached when `name` was never set on g.
        if name == "request_id":
            value = _request_id.get(None)
            if value is not None:
                return value
        return super().__getattr__(name)

    def get(self, name: str, default: Any = None) -> Any:
        if name == "request_id" and name not in self.__dict__:
            return _request_id.get(default)
        return super().get(name, default)

    def __contains__(self, item: str) -> bool:
        return super().__contains__(item) or (item == "request_id" and _request_id.get(None) is not None)
