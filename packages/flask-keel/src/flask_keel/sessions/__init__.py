"""Server-side sessions in the store SERVER_ENV.SESSION names.

- redis: SERVICES.redis (HOST/PORT/PASSWORD/DB, or URL incl. rediss://)
- memcached: SERVICES.memcached, through a pooled pymemcache client
- filesystem: SERVICES.filesystem.PATH

Sessions are msgpack (never pickle, see serializers.py), written only when they
changed (an authenticated page costs one read), and an unreachable store gives
503s instead of errors (see outage.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask
from flask.globals import _cv_request
from flask_session import Session

from flask_keel.sessions.interface import ResilientSessionInterface, is_users
from flask_keel.sessions.outage import SessionStoreUnavailable
from flask_keel.sessions.serializers import MsgpackFileSystemCache, StrictMsgpackSerializer

if TYPE_CHECKING:
    from flask_keel.config import Settings

__all__ = ["SessionStoreUnavailable", "rotate_session"]


FILE_SESSIONS_KEPT = 100_000


def init_sessions(app: Flask, settings: Settings, clients: dict) -> None:
    backend = settings.server.SESSION
    app.config.update(
        SESSION_KEY_PREFIX=f"{settings.key_namespace}:session:",
        SESSION_SERIALIZATION_FORMAT="msgpack",
        # Write the store only when the session changed. Flask's default refreshes
        # it on every request, which costs a write per page view.
        SESSION_REFRESH_EACH_REQUEST=False,
    )
    if backend == "redis":
        app.config.update(SESSION_TYPE="redis", SESSION_REDIS=clients["redis"])
    elif backend == "memcached":
        app.config.update(SESSION_TYPE="memcached", SESSION_MEMCACHED=clients["memcached"])
    else:
        directory = settings.path(settings.filesystem.PATH)
        directory.mkdir(parents=True, exist_ok=True)
        # Past the threshold cachelib deletes expired files, then the oldest. Only signed-in
        # sessions are stored (visitors' live in a signed cookie), so only logins, which are
        # rate-limited per address, ever bring the store near it.
        app.config.update(SESSION_TYPE="cachelib",
                          SESSION_CACHELIB=MsgpackFileSystemCache(str(directory), threshold=FILE_SESSIONS_KEPT,
                                                                  mode=0o600))
    Session(app)
    inner = app.session_interface
    inner.serializer = StrictMsgpackSerializer()
    app.session_interface = ResilientSessionInterface(inner, backend)
    # Registered before the Server modules' hooks, so it runs after them (Flask runs
    # after_request hooks last-registered first).
    app.after_request(never_store_signed_in_responses)


def never_store_signed_in_responses(response):
    """A response that read a signed-in session is that user's: no cache may keep it, and
    the browser may not show it again from its history after logout (`no-store`).
    A view's own Cache-Control is kept unless it is the plain `private` of the example hook."""
    # The context's session as Flask's own process_response reads it: through the
    # `session` proxy the read would itself mark the session accessed, so every
    # response (JSON for visitors, static files) would get `Vary: Cookie`.
    context = _cv_request.get(None)
    current = context._session if context is not None else None  # noqa: SLF001
    if current is not None and is_users(current) and current.accessed \
            and response.headers.get("Cache-Control") in (None, "private"):
        response.headers["Cache-Control"] = "private, no-store"
    return response


def rotate_session() -> None:
    """Give the current session a new id (at login), dropping the old one from the store."""
    from flask import current_app, session

    current_app.session_interface.regenerate(session)
