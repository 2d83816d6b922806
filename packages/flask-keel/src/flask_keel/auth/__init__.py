"""Session login (a user model with AuthorizedUser, login and logout), CSRF and login limits.

    from flask_keel.auth import current_user, login, login_required, logout

`login_required` sends a browser to the login page (with a safe `next`) and
answers an API client (JSON, /ws/...) with 401. The user model is the one
mapped class that mixes in flask_keel.db.AuthorizedUser.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import TYPE_CHECKING

from blinker import Namespace
from flask import Blueprint, Flask, current_app, g, has_request_context, jsonify, redirect, request, session, url_for
from flask_login import LoginManager, current_user, login_required, login_user, logout_user
from flask_login import utils as flask_login_utils
from flask_wtf.csrf import CSRFError, CSRFProtect, generate_csrf
from werkzeug.exceptions import BadRequest, Unauthorized
from werkzeug.security import generate_password_hash

from flask_keel.auth.limits import count_attempt, init_limits, login_rate_limit, signup_rate_limit
from flask_keel.auth.redirects import safe_next
from flask_keel.auth.session_user import SessionUser
from flask_keel.db.authorized_user import AuthorizedUser, normalise_username
from flask_keel.errors import render_error, wants_json
from flask_keel.passwords import verify_password
from flask_keel.sessions import current_session_id, end_user_sessions, rotate_session

if TYPE_CHECKING:
    from flask_keel.config import Settings

__all__ = ["authenticate", "count_attempt", "current_user", "csrf", "end_user_logins", "login", "login_ended",
           "login_rate_limit", "login_required", "logout", "renew_login", "safe_next", "signup_rate_limit",
           "user_logins_ended", "user_model"]

login_manager = LoginManager()
csrf = CSRFProtect()
csrf_blueprint = Blueprint("csrf", __name__)

USER_MODEL_KEY = "app.user_model"
# Where a page that needs a login sends the browser; FLASK.CONFIG.LOGIN_VIEW overrides it.
DEFAULT_LOGIN_VIEW = "accounts.login"

# Sent when a login ends: logged out, or replaced by another login over the same
# browser session. Sender: the app; keyword `session_id`: the stored session id the
# login had. flask_keel.realtime connects to it to disconnect that login's sockets in
# every process; auth itself knows nothing of sockets.
login_ended = Namespace().signal("flask-keel.login-ended")
# Sent by end_user_logins: every login of a user ends (a password change, "sign out
# everywhere", an account deleted). Sender: the app; keyword `user_id`. flask_keel.realtime
# disconnects every socket of that user, in every process.
user_logins_ended = Namespace().signal("flask-keel.user-logins-ended")


@cache
def _dummy_hash() -> str:
    """Compared against when the username is unknown, so a wrong username takes as long
    as a wrong password and response times do not reveal which accounts exist. Made
    in the background after create_app (see init_auth): hashing takes ~0.1 s, which
    every process start would otherwise wait for."""
    return generate_password_hash("not a real password")


class NotLoggedIn(Unauthorized):
    error_code = "not_logged_in"
    description = "Log in to use this endpoint."


class CsrfFailed(BadRequest):
    error_code = "csrf_failed"


def user_model():
    return current_app.extensions[USER_MODEL_KEY]


def _find_user_model(app: Flask):
    from flask_keel.db.extension import db

    found = [model for model in db.models_of(app).values() if issubclass(model, AuthorizedUser)]
    if len(found) > 1:
        raise RuntimeError(f"several models mix in AuthorizedUser ({', '.join(m.__name__ for m in found)}); "
                           "keep one user model")
    return found[0] if found else None


def authenticate(username: str, password: str):
    """The user with this username and password, or None."""
    from flask_keel.db import db

    model = user_model()
    user = db.session.query(model).filter_by(username=normalise_username(username)).one_or_none()
    if user is None:
        verify_password(_dummy_hash(), password)
        return None
    return user if user.check_password(password) else None


USERNAME_KEY = "_username"


def load_record(user_id: int):
    from flask_keel.db import db

    return db.session.get(current_app.extensions[USER_MODEL_KEY], user_id)


def _login_id() -> str | None:
    """The stored session id of the current login, if there is one."""
    return current_session_id()


def login(user) -> None:
    """Bind the session to `user` under a new session id (no fixation)."""
    previous = _login_id()
    session.clear()
    login_user(user)
    # Kept so that pages showing only the username need no query (SessionUser).
    session[USERNAME_KEY] = user.username
    session.permanent = True
    rotate_session()
    _end_login(previous)  # a login replaced by another takes its sockets along


def logout() -> None:
    """Forget the user, delete the session from the store and end its sockets everywhere."""
    previous = _login_id()
    logout_user()
    session.clear()
    _end_login(previous)


def _end_login(session_id: str | None) -> None:
    if session_id:
        login_ended.send(current_app._get_current_object(), session_id=session_id)


def renew_login() -> None:
    """Give the current login a new session id (after a password change, say): the old
    id leaves the store and takes its sockets along; the user stays signed in."""
    previous = _login_id()
    rotate_session()
    _end_login(previous)


def end_user_logins(user, *, keep_current: bool = False) -> int:
    """End every login of a user (a user object or id): delete each of their sessions
    from the store and disconnect their sockets, in every process, at once. Returns
    how many stored sessions were deleted.

    For whatever ends a user's logins: a password reset or change, "sign out
    everywhere", an account deleted. With `keep_current`, the login of the current
    request (and its sockets) stays: only the user's other sessions end. Callable
    from a request, a CLI command or any code with the app's context.
    """
    user_id = getattr(user, "id", user)
    app = current_app._get_current_object()
    keep = _login_id() if keep_current and has_request_context() else None
    if keep is not None and str(session.get("_user_id")) != str(user_id):
        keep = None  # the current login is someone else's: none of this user's is kept
    ended = end_user_sessions(user_id, keep=keep)
    if keep is None:
        user_logins_ended.send(app, user_id=user_id)
    else:
        for session_id in ended:  # each other login's sockets; the current one's stay
            login_ended.send(app, session_id=session_id)
    return len(ended)


def _user_from_session(user_id: str, username: object):
    """The user a session names: a SessionUser when it holds the username (no query), else the row."""
    if current_app.extensions[USER_MODEL_KEY] is None or not user_id.isdigit():
        return None
    if isinstance(username, str):
        return SessionUser(int(user_id), username, load_record)
    return load_record(int(user_id))


def set_request_user(user_id: str, username: str | None) -> None:
    """The current request's user, as a socket remembered it from its session at connect
    time: `current_user` then reads nothing from the session store."""
    g._login_user = _user_from_session(user_id, username) or login_manager.anonymous_user()


@csrf_blueprint.get("/ws/csrf")
def csrf_token():
    """The CSRF token for this session, for API clients to send as X-CSRFToken."""
    return jsonify(csrf_token=generate_csrf())


def _check_csrf_on_unsafe_methods_only(app: Flask) -> None:
    """Flask-WTF's hook looks up exemptions before it looks at the method, on every
    GET too; this one returns at once for methods that are never checked."""
    if not app.config["WTF_CSRF_CHECK_DEFAULT"]:
        return  # the user turned the default check off in FLASK.CONFIG
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    methods = app.config["WTF_CSRF_METHODS"]

    @app.before_request
    def csrf_protect() -> None:
        if request.method in methods and app.config["WTF_CSRF_ENABLED"]:
            csrf.protect(apply_exemptions=True)


def _identifier_if_signed_in() -> str | None:
    """Flask-Login's session-protection identifier (a SHA-512 of address and user
    agent), made only when there is a session to compare it with: Flask-Login makes
    it on every request and, for a visitor's empty session, throws it away."""
    return flask_login_utils._create_identifier() if session else None  # noqa: SLF001


def init_auth(app: Flask, settings: Settings) -> None:
    app.extensions[USER_MODEL_KEY] = _find_user_model(app)
    login_manager.init_app(app)
    login_manager._session_identifier_generator = _identifier_if_signed_in  # noqa: SLF001
    login_manager.login_view = None  # unauthorized() below decides where to go
    # Flask-Login's context processor loads the user for every template, reading the
    # session even on pages that never show the user; the lazy proxy reads it on use.
    processors = app.template_context_processors[None]
    processors[:] = [p for p in processors if p is not flask_login_utils._user_context_processor]
    app.context_processor(lambda: {"current_user": current_user})
    # Its after_request hook reads the session on every response, for remember-me
    # cookies this app never sets; without it /healthz and static files stay
    # independent of the session store.
    hooks = app.after_request_funcs[None]
    hooks[:] = [hook for hook in hooks if getattr(hook, "__func__", None) is not LoginManager._update_remember_cookie]
    csrf.init_app(app)
    _check_csrf_on_unsafe_methods_only(app)
    # Ready before the first login for an unknown name, which would otherwise pay for it
    # (and, once, answer slower than a wrong password would).
    threading.Thread(target=_dummy_hash, name="dummy-password-hash", daemon=True).start()
    init_limits(app, settings)
    app.register_blueprint(csrf_blueprint)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # valid as long as the session

    # The LoginManager is shared by every app of the process: its callbacks look the
    # app up per request (current_app), never through a closure over one app.
    @login_manager.user_loader
    def load_user(user_id: str):
        if current_app.extensions[USER_MODEL_KEY] is None or not user_id.isdigit():
            return None
        return _user_from_session(user_id, session.get(USERNAME_KEY))

    @login_manager.unauthorized_handler
    def unauthorized():
        view = current_app.config.get("LOGIN_VIEW", DEFAULT_LOGIN_VIEW)
        if wants_json() or view not in current_app.view_functions:
            return render_error(NotLoggedIn())
        return redirect(url_for(view, next=safe_next(request.full_path.rstrip("?"))))

    @app.errorhandler(CSRFError)
    def csrf_failed(exc: CSRFError):
        return render_error(CsrfFailed(exc.description))
