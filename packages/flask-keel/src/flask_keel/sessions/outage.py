"""What a request gets while the session store (Redis, memcached) is down.

The request is not failed up front: /healthz, static files and pages that never
touch the session keep working. The first access to the session raises
SessionStoreUnavailable, a 503 rendered as HTML or JSON like any other error.
A failure to save is turned into the same 503, so a login whose session could
not be written is never reported as a success. Failures are logged through
app.throttled_log: once, then at most every 30 s while they last, then once
on recovery.
"""

from __future__ import annotations

from flask import g
from flask_session.base import ServerSideSession
from werkzeug.exceptions import ServiceUnavailable

try:  # the store errors that mean "unreachable", from whichever clients are installed
    from redis.exceptions import RedisError
except ImportError:  # pragma: no cover
    RedisError = OSError  # type: ignore[assignment,misc]
try:
    from pymemcache.exceptions import MemcacheError
except ImportError:  # pragma: no cover
    MemcacheError = OSError  # type: ignore[assignment,misc]

STORE_ERRORS = (RedisError, MemcacheError, OSError)
RETRY_AFTER_SECONDS = 5


class SessionStoreUnavailable(ServiceUnavailable):
    error_code = "session_store_unavailable"
    description = "The session store is unavailable right now. Please try again in a few seconds."

    def get_headers(self, environ=None, scope=None):
        return [*super().get_headers(environ, scope), ("Retry-After", str(RETRY_AFTER_SECONDS))]


def _refusing(method):
    """The first use of the session in a request answers 503. After that (while the
    503 page renders, say) the session reads as empty, so the page can be shown to
    an anonymous visitor instead of failing again."""

    def refuse_once(self, *args, **kwargs):
        if not g.get("session_refused"):
            g.session_refused = True
            raise SessionStoreUnavailable()
        return method(self, *args, **kwargs)

    return refuse_once


class UnavailableSession(ServerSideSession):
    """A session that could not be loaded. It is never saved."""

    def __init__(self) -> None:
        super().__init__(sid="", permanent=False)

    for _name in ("__getitem__", "__setitem__", "__delitem__", "__contains__", "__iter__", "__len__", "get",
                  "setdefault", "pop", "popitem", "update", "clear", "keys", "values", "items"):
        locals()[_name] = _refusing(getattr(ServerSideSession, _name))
    del _name

    def __bool__(self) -> bool:
        return False


def mark_unavailable() -> None:
    """Templates check this flag so an error page itself does not touch the session."""
    g.session_store_down = True
