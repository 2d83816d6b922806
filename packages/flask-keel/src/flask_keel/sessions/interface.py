"""The session interface: signed cookies for visitors, the server-side store for users.

Only a signed-in session is kept in the store (Redis, memcached, files). What an
anonymous visitor's session holds (a form's CSRF token, a flashed message) goes
in a signed cookie of its own, `<SESSION_COOKIE_NAME>_anon`, so that no amount
of anonymous traffic grows the store, evicts a user's session or costs a
write. Pages that never touch the session send no cookie at all. The cookie is
signed with APP_KEY (Flask's own tagged JSON, never pickle) and expires with
PERMANENT_SESSION_LIFETIME. Logging in moves the session into the store under
a new id (no fixation) and drops the cookie; logging out deletes it from the
store.

Each write to the store stamps the session with its expiry (`_expires_at`, Unix
seconds: the write's time plus PERMANENT_SESSION_LIFETIME, the store's own TTL),
so that whoever holds a copy (a socket, flask_keel.realtime) knows when it ends
without asking the store.

The store may go away: see outage.py for what requests get meanwhile.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import Flask, Request, Response, request
from flask.json.tag import TaggedJSONSerializer
from flask.sessions import SessionInterface
from itsdangerous import BadSignature, URLSafeTimedSerializer

from flask_keel.metrics import SESSION_STORE_FAILURES
from flask_keel.sessions.outage import STORE_ERRORS, SessionStoreUnavailable, UnavailableSession, mark_unavailable
from flask_keel.throttled_log import ThrottledLog

log = logging.getLogger("flask_keel.sessions")

USER_KEY = "_user_id"  # Flask-Login's key: its presence makes a session a user's
EXPIRES_KEY = "_expires_at"  # when the stored session ends, in Unix seconds
ANONYMOUS_SALT = "anonymous-session"
# Browsers drop cookies past 4 KiB; an anonymous session should never come near.
COOKIE_WARN_BYTES = 3800


def is_users(session: Any) -> bool:
    return dict.__contains__(session, USER_KEY)


def expires_at(session: Any) -> float | None:
    """When this stored session ends (Unix seconds), as its last write stamped it; None if unstamped."""
    value = dict.get(session, EXPIRES_KEY)
    return float(value) if isinstance(value, int | float) else None


class ResilientSessionInterface(SessionInterface):
    def __init__(self, inner: SessionInterface, store_name: str):
        self.inner = inner
        self.health = ThrottledLog(f"session store ({store_name})", logger=log, counter=SESSION_STORE_FAILURES)

    def __getattr__(self, name: str) -> Any:
        # The serializer and the rest come from Flask-Session's interface.
        return getattr(self.inner, name)

    # -- the anonymous cookie -------------------------------------------------------------

    @staticmethod
    def anonymous_cookie_name(app: Flask) -> str:
        return f"{app.config['SESSION_COOKIE_NAME']}_anon"

    @staticmethod
    def _signer(app: Flask) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(app.secret_key, salt=ANONYMOUS_SALT, serializer=TaggedJSONSerializer())

    def _anonymous(self, data: dict | None = None):
        """A visitor's session: no id until it becomes a user's."""
        return self.inner.session_class(data, sid=None)

    def _load_anonymous(self, app: Flask, value: str):
        max_age = int(app.permanent_session_lifetime.total_seconds())
        try:
            data = self._signer(app).loads(value, max_age=max_age)
        except BadSignature:
            data = None  # forged, from another key, or expired: a new visitor
        return self._anonymous(data if isinstance(data, dict) else None)

    def _set_anonymous_cookie(self, app: Flask, session, response: Response) -> None:
        value = self._signer(app).dumps(dict(session))
        if len(value) > COOKIE_WARN_BYTES:
            log.warning("an anonymous session is %d bytes; browsers drop cookies past 4096", len(value))
        response.set_cookie(self.anonymous_cookie_name(app), value, expires=self.get_expiration_time(app, session),
                            httponly=self.get_cookie_httponly(app), domain=self.get_cookie_domain(app),
                            path=self.get_cookie_path(app), secure=self.get_cookie_secure(app),
                            samesite=self.get_cookie_samesite(app))

    def _delete_cookie(self, app: Flask, name: str, response: Response) -> None:
        response.delete_cookie(name, domain=self.get_cookie_domain(app), path=self.get_cookie_path(app),
                               secure=self.get_cookie_secure(app), samesite=self.get_cookie_samesite(app))

    # -- Flask's interface ----------------------------------------------------------------

    def open_session(self, app: Flask, request: Request):
        if "HTTP_COOKIE" not in request.environ:
            # No cookie at all (API clients, first visits): an empty visitor session,
            # without parsing the Cookie header into a dict.
            return self._anonymous()
        if app.config["SESSION_COOKIE_NAME"] in request.cookies:
            try:
                session = self.inner.open_session(app, request)
            except STORE_ERRORS as exc:
                self.health.failure(exc)
                mark_unavailable()
                return UnavailableSession()
            self.health.success()
            return session
        anonymous = request.cookies.get(self.anonymous_cookie_name(app))
        return self._load_anonymous(app, anonymous) if anonymous else self._anonymous()

    def save_session(self, app: Flask, session, response: Response) -> None:
        if isinstance(session, UnavailableSession):
            return
        if not session and not session.accessed and not session.modified:
            return  # nothing to store, no cookie to send or delete, no Vary to add
        if session.accessed:
            response.vary.add("Cookie")
        cookies = request.cookies if "HTTP_COOKIE" in request.environ else {}
        server_cookie, anonymous_cookie = app.config["SESSION_COOKIE_NAME"], self.anonymous_cookie_name(app)
        if is_users(session):
            if session.sid is None:  # a visitor's session becoming a user's without regenerate()
                session.sid = self.inner._generate_sid(self.inner.sid_length)
                session.modified = True
            self._save_in_store(app, session, response)
            if anonymous_cookie in cookies:
                self._delete_cookie(app, anonymous_cookie, response)
            return
        if not session.modified:
            return
        if server_cookie in cookies:
            # A user's session became a visitor's (logout, an expired login): out of the store.
            self._delete_stored(cookies[server_cookie])
            self._delete_cookie(app, server_cookie, response)
        if session:
            self._set_anonymous_cookie(app, session, response)
        elif anonymous_cookie in cookies:
            self._delete_cookie(app, anonymous_cookie, response)

    def _save_in_store(self, app: Flask, session, response: Response) -> None:
        if self.inner.should_set_storage(app, session):
            # The store keeps it for the lifetime from now (its TTL): say so in the session itself.
            dict.__setitem__(session, EXPIRES_KEY, time.time() + app.permanent_session_lifetime.total_seconds())
        try:
            self.inner.save_session(app, session, response)
        except STORE_ERRORS as exc:
            self.health.failure(exc)
            mark_unavailable()
            _replace_with_unavailable(response)

    def _delete_stored(self, sid: str) -> None:
        try:
            self.inner._delete_session(self.inner._get_store_id(sid))
        except STORE_ERRORS as exc:
            # The cookie is deleted all the same; the entry expires on its own.
            self.health.failure(exc)

    def regenerate(self, session) -> None:
        """A new session id (at login): the old entry leaves the store, the data moves to the new id."""
        if session.sid is None:
            session.sid = self.inner._generate_sid(self.inner.sid_length)
            session.modified = True
            return
        try:
            self.inner.regenerate(session)
        except STORE_ERRORS as exc:
            self.health.failure(exc)
            mark_unavailable()
            raise SessionStoreUnavailable() from None


def _replace_with_unavailable(response: Response) -> None:
    """The view succeeded but its session change was lost: say so instead of 2xx."""
    from flask_keel.errors import render_error  # the same body any 503 gets

    replacement = render_error(SessionStoreUnavailable())
    response.status_code = replacement.status_code
    response.set_data(replacement.get_data())
    response.headers = replacement.headers
