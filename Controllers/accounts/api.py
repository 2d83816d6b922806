"""Signup, login and logout as JSON services.

A client first reads a CSRF token from GET /ws/csrf and sends it as X-CSRFToken
with every POST. Login answers with a new token: the session is new.
"""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask_wtf.csrf import generate_csrf
from werkzeug.exceptions import Unauthorized

from Controllers.accounts.service import create_user
from Controllers.accounts.verification import may_log_in, verification_mode
from flask_keel.auth import (
    authenticate,
    current_user,
    login,
    login_rate_limit,
    login_required,
    logout,
    signup_rate_limit,
)
from flask_keel.errors import render_error
from flask_keel.payloads import json_body
from Models.Forms.accounts import LoginIn, SignupIn

api = Blueprint("accounts_api", __name__, url_prefix="/ws")


class InvalidCredentials(Unauthorized):
    error_code = "invalid_credentials"
    description = "Wrong username or password."


def _signed_in(user, status: int = 200):
    return jsonify(user=user.to_dict(), csrf_token=generate_csrf()), status


@api.post("/signup")
@signup_rate_limit
def signup():
    """Create an account and sign in; answers the user and the session's new CSRF token."""
    payload = json_body(SignupIn)
    user = create_user(payload.username, payload.email, payload.password)
    if verification_mode() == "required":  # signed in only once the address is confirmed
        return jsonify(user=user.to_dict(), verification_required=True), 201
    login(user)
    return _signed_in(user, 201)


@api.post("/login")
@login_rate_limit
def login_view():
    """Sign in; answers the user and the session's new CSRF token."""
    payload = json_body(LoginIn)
    user = authenticate(payload.username, payload.password)
    if user is None:
        return render_error(InvalidCredentials())
    may_log_in(user)  # 403 email_not_verified when verification is required
    login(user)
    return _signed_in(user)


@api.post("/logout")
def logout_view():
    """Sign out (signed out already is fine too)."""
    logout()
    return jsonify(logged_out=True)


@api.get("/me")
@login_required
def me():
    """The signed-in user."""
    return jsonify(current_user.to_dict())
