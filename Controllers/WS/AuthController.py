"""Signup, login and logout as JSON services (Fluxon's signup view and request.login).

A client first reads a CSRF token from GET /ws/csrf and sends it as X-CSRFToken
with every POST. Login answers with a new token: the session is new.
"""

from __future__ import annotations

from flask import jsonify
from flask_wtf.csrf import generate_csrf
from werkzeug.exceptions import Unauthorized

from app.auth import (
    authenticate,
    current_user,
    login,
    login_rate_limit,
    login_required,
    logout,
    signup_rate_limit,
)
from app.errors import render_error
from app.payloads import json_body
from Controllers.accounts import create_user
from Models.Forms.auth import LoginIn, SignupIn


class InvalidCredentials(Unauthorized):
    error_code = "invalid_credentials"
    description = "Wrong username or password."


def _signed_in(user, status: int = 200):
    return jsonify(user=profile(user), csrf_token=generate_csrf()), status


def profile(user) -> dict[str, object]:
    return {**user.to_dict(), "teacher": user.teacher is not None, "student": user.student is not None}


@signup_rate_limit
def signup():
    payload = json_body(SignupIn)
    user = create_user(payload.username, payload.email, payload.password)
    login(user)
    return _signed_in(user, 201)


@login_rate_limit
def login_view():
    payload = json_body(LoginIn)
    user = authenticate(payload.username, payload.password)
    if user is None:
        return render_error(InvalidCredentials())
    login(user)
    return _signed_in(user)


def logout_view():
    logout()
    return jsonify(logged_out=True)


@login_required
def me():
    return jsonify(profile(current_user))
