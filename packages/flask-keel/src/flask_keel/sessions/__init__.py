"""Server-side sessions in the store SERVER_ENV.SESSION names.

- redis: SERVICES.redis (HOST/PORT/PASSWORD/DB, or URL incl. rediss://)
- memcached: SERVICES.memcached, through a pooled pymemcache client
- filesystem: SERVICES.filesystem.PATH

Sessions are msgpack (never pickle, see serializers.py), written only when they
changed (an authenticated page costs one read), and an unreachable store gives
503s instead of errors (see outage.py).

Each store also lists every user's sessions (index.py): `user_sessions(user_id)`
for an account page, `end_user_sessions(user_id, keep=...)` to sign a user out
of every other device (flask_keel.auth.end_user_logins calls it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app, session
from flask.globals import _cv_request
from flask_session import Session

from flask_keel.sessions.index import (
    SEEN_EVERY,
    FileSessionIndex,
    MemcachedSessionIndex,
    RedisSessionIndex,
    SessionEntry,
    SessionIndex,
)
from flask_keel.sessions.interface import USER_KEY, ResilientSessionInterface, is_users
from flask_keel.sessions.outage import STORE_ERRORS, SessionStoreUnavailable
from flask_keel.sessions.serializers import MsgpackFileSystemCache, StrictMsgpackSerializer

if TYPE_CHECKING:
    from flask_keel.config import Settings

__all__ = ["ActiveSession", "SessionStoreUnavailable", "current_session_id", "end_user_sessions", "rotate_session",
           "user_sessions"]


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
    # How often a user's "last seen" is written, at most, per process and session.
    seen_every = float(app.config.setdefault("SESSION_SEEN_INTERVAL", SEEN_EVERY))
    app.session_interface = ResilientSessionInterface(inner, backend, _index_for(app, settings, clients), seen_every)
    # Registered before the Server modules' hooks, so it runs after them (Flask runs
    # after_request hooks last-registered first).
    app.after_request(never_store_signed_in_responses)


def _index_for(app: Flask, settings: Settings, clients: dict) -> SessionIndex:
    """The index of each user's sessions, in the store that holds the sessions."""
    namespace, lifetime = settings.key_namespace, app.permanent_session_lifetime.total_seconds()
    backend = settings.server.SESSION
    if backend == "redis":
        return RedisSessionIndex(clients["redis"], namespace, lifetime)
    if backend == "memcached":
        return MemcachedSessionIndex(clients["memcached"], namespace, lifetime)
    # Beside the session folder, not in it: cachelib counts and prunes every entry of its folder.
    directory = Path(settings.path(settings.filesystem.PATH))
    return FileSessionIndex(directory.with_name(directory.name + "-index"), namespace, lifetime)


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


@dataclass(frozen=True)
class ActiveSession:
    """A session of a user as an account page shows it (times in Unix seconds)."""

    id: str  # a hash of the session id: the id itself is a secret and never shown
    created: float
    last_seen: float
    client: str  # the User-Agent, shortened ("Firefox on Linux")
    address: str
    current: bool  # the session of the request asking

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "created": self.created, "last_seen": self.last_seen, "client": self.client,
                "address": self.address, "current": self.current}


def current_session_id() -> str | None:
    """The stored session id of the current request's login, if it has one."""
    current = session._get_current_object()
    sid = getattr(current, "sid", None)
    return sid if sid and is_users(current) else None


def _interface() -> ResilientSessionInterface:
    return current_app.session_interface


def _live_entries(user_id: Any) -> list[SessionEntry]:
    """The index's entries of the user whose session the store still holds, as that user's.
    Entries naming a session that is gone (expired, deleted behind the app's back) or
    someone else's are dropped from the index."""
    interface, user = _interface(), str(getattr(user_id, "id", user_id))
    if interface.index is None:
        return []
    try:
        entries = interface.index.entries(user)
        live, gone = [], []
        for entry in entries:
            data = interface.inner._retrieve_session_data(interface.inner._get_store_id(entry.sid))
            holder = dict.get(data, USER_KEY) if isinstance(data, dict) else None
            (live if holder is not None and str(holder) == user else gone).append(entry)
        if gone:
            interface.index.remove(user, [entry.sid for entry in gone])
    except STORE_ERRORS as exc:
        interface.health.failure(exc)
        raise SessionStoreUnavailable() from None
    return live


def user_sessions(user_id: Any) -> list[ActiveSession]:
    """The user's (a user or an id) active sessions, the most recently seen first."""
    current = current_session_id() if _cv_request.get(None) is not None else None
    listed = [ActiveSession(entry.public_id, entry.created, entry.seen, entry.agent, entry.address,
                            entry.sid == current) for entry in _live_entries(user_id)]
    return sorted(listed, key=lambda active: (not active.current, -active.last_seen))


def end_user_sessions(user_id: Any, *, keep: str | None = None) -> list[str]:
    """Delete every stored session of the user (a user or an id) but `keep` (a session id);
    the ids deleted. Their cookies then name nothing: the next request of each is a visitor's."""
    interface, user = _interface(), str(getattr(user_id, "id", user_id))
    ended = [entry.sid for entry in _live_entries(user) if entry.sid != keep]
    try:
        for sid in ended:
            interface.inner._delete_session(interface.inner._get_store_id(sid))
        if ended:
            interface.index.remove(user, ended)
    except STORE_ERRORS as exc:
        interface.health.failure(exc)
        raise SessionStoreUnavailable() from None
    return ended
