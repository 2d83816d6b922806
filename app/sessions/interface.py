"""A session interface that survives its store going away (see outage.py)."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Request, Response
from flask.sessions import SessionInterface

from app.sessions.outage import STORE_ERRORS, SessionStoreUnavailable, UnavailableSession, mark_unavailable
from app.throttled_log import ThrottledLog

log = logging.getLogger("app.sessions")


class ResilientSessionInterface(SessionInterface):
    def __init__(self, inner: SessionInterface, store_name: str):
        self.inner = inner
        self.health = ThrottledLog(f"session store ({store_name})", logger=log)

    def __getattr__(self, name: str) -> Any:
        # regenerate(), the serializer and the rest come from Flask-Session's interface.
        return getattr(self.inner, name)

    def open_session(self, app: Flask, request: Request):
        if "HTTP_COOKIE" not in request.environ:
            # No cookie at all (API clients, first visits): the new empty session
            # Flask-Session would make, without parsing the Cookie header into a dict.
            inner = self.inner
            return inner.session_class(sid=inner._generate_sid(inner.sid_length), permanent=inner.permanent)
        try:
            session = self.inner.open_session(app, request)
        except STORE_ERRORS as exc:
            self.health.failure(exc)
            mark_unavailable()
            return UnavailableSession()
        self.health.success()
        return session

    def save_session(self, app: Flask, session, response: Response) -> None:
        if isinstance(session, UnavailableSession):
            return
        if not session and not session.accessed and not session.modified:
            return  # nothing to store, no cookie to send or delete, no Vary to add
        try:
            self.inner.save_session(app, session, response)
        except STORE_ERRORS as exc:
            self.health.failure(exc)
            mark_unavailable()
            _replace_with_unavailable(response)

    def regenerate(self, session) -> None:
        try:
            self.inner.regenerate(session)
        except STORE_ERRORS as exc:
            self.health.failure(exc)
            mark_unavailable()
            raise SessionStoreUnavailable() from None


def _replace_with_unavailable(response: Response) -> None:
    """The view succeeded but its session change was lost: say so instead of 2xx."""
    from app.errors import render_error  # the same body any 503 gets

    replacement = render_error(SessionStoreUnavailable())
    response.status_code = replacement.status_code
    response.set_data(replacement.get_data())
    response.headers = replacement.headers
