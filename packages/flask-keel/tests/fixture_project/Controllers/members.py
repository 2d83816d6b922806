"""Signing up, in and out, as JSON (what flask_keel.client.Client calls)."""

from flask import Blueprint, jsonify
from flask_wtf.csrf import generate_csrf
from werkzeug.exceptions import Unauthorized

from flask_keel.auth import (
    authenticate,
    current_user,
    login,
    login_rate_limit,
    login_required,
    logout,
    signup_rate_limit,
)
from flask_keel.db import db
from flask_keel.errors import render_error
from flask_keel.payloads import json_body
from Models.Forms.notes import Credentials, SignupIn
from Models.Persistent.members import Member

api = Blueprint("members", __name__, url_prefix="/ws")


def _signed_in(member, status=200):
    return jsonify(user=member.to_dict(), csrf_token=generate_csrf()), status


@api.post("/signup")
@signup_rate_limit
def signup():
    payload = json_body(SignupIn)
    member = Member(username=payload.username, email=payload.email)
    member.set_password(payload.password)
    db.session.add(member)
    db.session.commit()
    login(member)
    return _signed_in(member, 201)


@api.post("/login")
@login_rate_limit
def login_view():
    payload = json_body(Credentials)
    member = authenticate(payload.username, payload.password)
    if member is None:
        return render_error(Unauthorized("Wrong username or password."))
    login(member)
    return _signed_in(member)


@api.post("/logout")
def logout_view():
    logout()
    return jsonify(logged_out=True)


@api.get("/me")
@login_required
def me():
    return jsonify(current_user.to_dict())
