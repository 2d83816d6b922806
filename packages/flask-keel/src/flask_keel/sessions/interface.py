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

Each user's sessions are listed in an index beside them (index.py): a login adds
its entry, a logout removes it, a write of the session moves its expiry on, and a
request refreshes "last seen" at most every SEEN_EVERY seconds per process.

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
from flask_keel.sessions.index import SEEN_EVERY, SessionIndex, new_entry
from flask_keel.sessions.outage import STORE_ERRORS, SessionStoreUnavailable, UnavailableSession, mark_unavailable
from flask_keel.throttled_log import ThrottledLog

log = logging.getLogger("flask_keel.sessions")

USER_KEY = "_user_id"  # Flask-Login's key: its presence makes a session a user's
EXPIRES_KEY = "_expires_at"  # when the stored session ends, in Unix seconds
ANONYMOUS_SALT = "anonymous-session"
# Browsers drop cookies past 4 KiB; an anonymous session should never come near.
COOKIE_WARN_BYTES = 3800
# Sessions whose "last seen" this process remembers writing; past it the memory starts over.
SEEN_REMEMBERED = 10_000


def is_users(session: Any) -> bool:
    return dict.__contains__(session, USER_KEY)


def expires_at(session: Any) -> float | None:
    """When this stored session ends (Unix seconds), as its last write stamped it; None if unstamped."""
    value = dict.get(session, EXPIRES_KEY)
    return float(value) if isinstance(value, int | float) else None


class ResilientSessionInterface(SessionInterface):
    def __init__(self, inner: SessionInterface, store_name: str, index: SessionIndex | None = None,
                 seen_every: float = SEEN_EVERY):
        self.inner = inner
        self.index = index
        self.seen_every = seen_every
        self.health = ThrottledLog(f"session store ({store_name})", logger=log, counter=SESSION_STORE_FAILURES)
        self.seen_written: dict[str, float] = {}  # session id -> time.monotonic() of its last "last seen"

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
        # With every attribute the cookie was set with: a cookie jar (curl's) that files an
        # HttpOnly cookie apart from a plain one would otherwise keep the old one.
        response.delete_cookie(name, domain=self.get_cookie_domain(app), path=self.get_cookie_path(app),
                               secure=self.get_cookie_secure(app), samesite=self.get_cookie_samesite(app),
                               httponly=self.get_cookie_httponly(app))

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
            if is_users(session):
                session.indexed_user = str(dict.get(session, USER_KEY))  # whose index names it
                return session
            if session:
                return session
            # The store has no session under that cookie (logged out, expired): the visitor's
            # signed cookie, if any, still holds their CSRF token.
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
                session.new_login = True
            if self._ended_meanwhile(app, session):
                # Signed out everywhere (or its password changed) while this request ran: a
                # change it made must not bring the session back.
                self._delete_cookie(app, server_cookie, response)
                return
            self._save_in_store(app, session, response)
            self._index(app, session)
            if anonymous_cookie in cookies:
                self._delete_cookie(app, anonymous_cookie, response)
            return
        if not session.modified:
            return
        if server_cookie in cookies:
            # A user's session became a visitor's (logout, an expired login): out of the store.
            self._delete_stored(cookies[server_cookie])
            self._unindex(getattr(session, "indexed_user", None), cookies[server_cookie])
            self._delete_cookie(app, server_cookie, response)
        if session:
            self._set_anonymous_cookie(app, session, response)
        elif anonymous_cookie in cookies:
            self._delete_cookie(app, anonymous_cookie, response)

    def _save_in_store(self, app: Flask, session, response: Response) -> None:
        if self.inner.should_set_storage(app, session):
            # The store keeps it for the lifetime from now (its TTL): say so in the session itself.
            dict.__setitem__(session, EXPIRES_KEY, time.time() + app.permanent_session_lifetime.total_seconds())
            session.written_until = dict.get(session, EXPIRES_KEY)
        try:
            self.inner.save_session(app, session, response)
        except STORE_ERRORS as exc:
            self.health.failure(exc)
            mark_unavailable()
            _replace_with_unavailable(response)
            session.written_until = None

    def _ended_meanwhile(self, app: Flask, session) -> bool:
        """Whether this request's session, about to be written, was deleted from the store since
        the request read it. One more read, only on the rare requests that change a session."""
        if getattr(session, "new_login", False) or not getattr(session, "indexed_user", None) \
                or not self.inner.should_set_storage(app, session):
            return False
        try:
            return self.inner._retrieve_session_data(self.inner._get_store_id(session.sid)) is None
        except STORE_ERRORS:
            return False  # the write that follows meets the outage and answers 503

    # -- the index of each user's sessions ------------------------------------------------

    def _index(self, app: Flask, session) -> None:
        """After a user's request: a new login enters the index; a written session moves its
        expiry on; otherwise "last seen" is written if this process has not for seen_every
        seconds (FLASK.CONFIG.SESSION_SEEN_INTERVAL)."""
        if self.index is None or not session.sid:
            return
        user_id, sid = str(dict.get(session, USER_KEY)), session.sid
        written_until = getattr(session, "written_until", None)
        now = time.monotonic()
        due = sid not in self.seen_written or now - self.seen_written[sid] >= self.seen_every
        try:
            if getattr(session, "new_login", False) or getattr(session, "indexed_user", user_id) != user_id:
                if written_until is None:
                    return  # the login's session was not stored: nothing to list
                self.index.prune(user_id)
                self.index.put(user_id, new_entry(sid, request.headers.get("User-Agent"), request.remote_addr,
                                                  written_until))
                session.new_login = False
            elif written_until is not None or due:
                found = self.index.update(user_id, sid, seen=time.time() if due else None, expires=written_until)
                if not found and written_until is not None:  # a session from before the index: listed from now
                    self.index.put(user_id, new_entry(sid, request.headers.get("User-Agent"), request.remote_addr,
                                                      written_until))
            else:
                return
        except STORE_ERRORS as exc:
            self.health.failure(exc)  # the session itself is fine; its entry is retried next time
            return
        if len(self.seen_written) >= SEEN_REMEMBERED:
            self.seen_written.clear()
        self.seen_written[sid] = now

    def _unindex(self, user_id: str | None, sid: str | None) -> None:
        if self.index is None or not user_id or not sid:
            return
        self.seen_written.pop(sid, None)
        try:
            self.index.remove(user_id, [sid])
        except STORE_ERRORS as exc:
            self.health.failure(exc)  # readers skip entries whose session is gone

    def _delete_stored(self, sid: str) -> None:
        try:
            self.inner._delete_session(self.inner._get_store_id(sid))
        except STORE_ERRORS as exc:
            # The cookie is deleted all the same; the entry expires on its own.
            self.health.failure(exc)

    def regenerate(self, session) -> None:
        """A new session id (at login): the old entry leaves the store, the data moves to the new id."""
        session.new_login = True  # the index gets an entry for the new id once it is stored
        if session.sid is None:
            session.sid = self.inner._generate_sid(self.inner.sid_length)
            session.modified = True
            return
        previous = session.sid
        try:
            self.inner.regenerate(session)
        except STORE_ERRORS as exc:
            self.health.failure(exc)
            mark_unavailable()
            raise SessionStoreUnavailable() from None
        self._unindex(getattr(session, "indexed_user", None), previous)
        session.indexed_user = None


def _replace_with_unavailable(response: Response) -> None:
    """The view succeeded but its session change was lost: say so instead of 2xx."""
    from flask_keel.errors import render_error  # the same body any 503 gets

    replacement = render_error(SessionStoreUnavailable())
    response.status_code = replacement.status_code
    response.set_data(replacement.get_data())
    response.headers = replacement.headers
