"""The account page: the user's active sessions, sign out everywhere, change the password,
delete the account. Each action is one function below, served three ways: a page with a
Flask-WTF form (/account/...), a JSON endpoint (/ws/account/...) and a named request
(account.*). Nothing here knows of other features: what is theirs goes with the user
through their own models' cascades (ON DELETE CASCADE on their foreign keys)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask_wtf.csrf import generate_csrf
from werkzeug.exceptions import Forbidden

from Controllers.accounts.api import api
from Controllers.accounts.pages import pages
from flask_keel.auth import count_attempt, current_user, end_user_logins, login_required, logout, renew_login
from flask_keel.db import db
from flask_keel.errors import render_error
from flask_keel.payloads import json_body
from flask_keel.rpc import RpcRequest, named_request
from flask_keel.sessions import user_sessions
from flask_keel.ui import nav_link
from Models.Forms.account import (
    ChangePasswordForm,
    ChangePasswordIn,
    DeleteAccountForm,
    DeleteAccountIn,
    NoFields,
    SignOutEverywhereForm,
)
from Models.Persistent.accounts import User


class WrongPassword(Forbidden):
    error_code = "wrong_password"
    description = "The password is wrong."


# -- the operations ---------------------------------------------------------------------

def _record(user) -> User:
    """The user's row: a SessionUser loads it (401 if the account is gone meanwhile)."""
    return getattr(user, "record", user)


def _check_password(record: User, password: str) -> None:
    # Counted with the login attempts of the client: a stolen session must not become a
    # way to guess the password without limit.
    count_attempt("login", request.remote_addr or "unknown")
    if not record.check_password(password):
        raise WrongPassword()


def active_sessions(user) -> list[dict[str, Any]]:
    return [active.to_dict() for active in user_sessions(user.id)]


def sign_out_everywhere(user) -> int:
    """End every session and socket of the user but the current one; how many sessions ended."""
    return end_user_logins(user.id, keep_current=True)


def change_password(user, current: str, new: str, *, renew: bool = True) -> int:
    """Set a new password (the current one must be right), end the user's other sessions and
    sockets, and give the current session a new id (`renew`: not over a socket, whose
    client could not learn the new cookie). How many other sessions ended."""
    record = _record(user)
    _check_password(record, current)
    record.set_password(new)
    db.session.commit()
    ended = end_user_logins(record.id, keep_current=True)
    if renew:
        renew_login()
    return ended


def delete_account(user, password: str) -> None:
    """Delete the user (what is theirs goes with them: the models' cascades), every session
    and socket of theirs, and sign this client out."""
    record = _record(user)
    _check_password(record, password)
    user_id = record.id
    db.session.delete(record)
    db.session.commit()
    end_user_logins(user_id)
    logout()


# -- the page ---------------------------------------------------------------------------

nav_link(pages, "Account", "accounts.account")


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


def render_account(status: int = 200, **forms: Any):
    """The account page; `forms` (by name) shown again with their errors."""
    sessions = [{**active, "created": _when(active["created"]), "last_seen": _when(active["last_seen"])}
                for active in active_sessions(current_user)]
    forms = {"sign_out_form": SignOutEverywhereForm(prefix="everywhere"),
             "password_form": ChangePasswordForm(prefix="password"),
             "delete_form": DeleteAccountForm(prefix="delete"), **forms}
    return render_template("accounts/account.html", user=current_user, sessions=sessions, **forms), status


@pages.get("/account")
@login_required
def account():
    return render_account()


@pages.post("/account/sign-out-everywhere")
@login_required
def sign_out_everywhere_page():
    if not SignOutEverywhereForm(prefix="everywhere").validate_on_submit():
        return render_account(400)
    ended = sign_out_everywhere(current_user)
    flash(f"Signed out of {ended} other session{'s' if ended != 1 else ''}.", "success")
    return redirect(url_for("accounts.account"))


@pages.post("/account/password")
@login_required
def change_password_page():
    form = ChangePasswordForm(prefix="password")
    if form.validate_on_submit():
        try:
            change_password(current_user, form.current_password.data, form.new_password.data)
        except WrongPassword as exc:
            form.current_password.errors.append(exc.description)
        else:
            flash("Your password is changed; your other sessions are signed out.", "success")
            return redirect(url_for("accounts.account"))
    return render_account(400, password_form=form)


@pages.post("/account/delete")
@login_required
def delete_account_page():
    form = DeleteAccountForm(prefix="delete")
    if form.validate_on_submit():
        try:
            delete_account(current_user, form.password.data)
        except WrongPassword as exc:
            form.password.errors.append(exc.description)
        else:
            flash("Your account is deleted.", "info")
            return redirect(url_for("core.home"))
    return render_account(400, delete_form=form)


# -- JSON endpoints -----------------------------------------------------------------------

def _no_fields() -> None:
    if request.get_data(cache=True):
        json_body(NoFields)


@api.get("/account/sessions")
@login_required
def sessions_json():
    """Your active sessions (created, last seen, client, address), this one first and marked `current`."""
    return jsonify(sessions=active_sessions(current_user))


@api.post("/account/sign-out-everywhere")
@login_required
def sign_out_everywhere_json():
    """End every other session and socket of yours; answers how many sessions ended."""
    _no_fields()
    return jsonify(ended=sign_out_everywhere(current_user))


@api.post("/account/password")
@login_required
def change_password_json():
    """Change your password (the current one is required): your other sessions and sockets end and
    this session gets a new id (its cookie is in the answer). 403 `wrong_password` if it is wrong."""
    payload = json_body(ChangePasswordIn)
    try:
        ended = change_password(current_user, payload.current_password, payload.new_password)
    except WrongPassword as exc:
        return render_error(exc)
    # The session has a new id: its cookie is in this answer, its CSRF token is the same.
    return jsonify(ended=ended, csrf_token=generate_csrf())


@api.post("/account/delete")
@login_required
def delete_account_json():
    """Delete your account and everything that is yours (the password is required); every session
    and socket of yours ends. 403 `wrong_password` if it is wrong."""
    payload = json_body(DeleteAccountIn)
    try:
        delete_account(current_user, payload.password)
    except WrongPassword as exc:
        return render_error(exc)
    return jsonify(deleted=True)


# -- named requests -----------------------------------------------------------------------

@named_request(api, "account.sessions")
def sessions_request(request: RpcRequest) -> dict[str, Any]:
    """Your active sessions, the one asking first and marked `current`."""
    if request.payload is not None:
        request.parse(NoFields)
    return {"sessions": active_sessions(request.user)}


@named_request(api, "account.sign_out_everywhere")
def sign_out_everywhere_request(request: RpcRequest) -> dict[str, Any]:
    """End every session and socket of yours but the one asking; answers how many sessions ended."""
    if request.payload is not None:
        request.parse(NoFields)
    return {"ended": sign_out_everywhere(request.user)}


@named_request(api, "account.change_password")
def change_password_request(request: RpcRequest) -> dict[str, Any]:
    """Change your password (the current one is required); your other sessions and sockets end.
    Over HTTP this session gets a new id; over a socket it keeps its own."""
    payload = request.parse(ChangePasswordIn)
    ended = change_password(request.user, payload.current_password, payload.new_password,
                            renew=request.transport == "http")
    return {"ended": ended}


@named_request(api, "account.delete")
def delete_account_request(request: RpcRequest) -> dict[str, Any]:
    """Delete your account and everything that is yours (the password is required)."""
    payload = request.parse(DeleteAccountIn)
    delete_account(request.user, payload.password)
    return {"deleted": True}


__all__ = ["active_sessions", "change_password", "delete_account", "sign_out_everywhere"]
