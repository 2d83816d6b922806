"""Password reset as a page, a JSON endpoint and a named request (one function each step:
Controllers/accounts/recovery.py)."""

from __future__ import annotations

from flask import flash, jsonify, redirect, render_template, url_for

from Controllers.accounts import recovery
from Controllers.accounts.api import api
from Controllers.accounts.pages import pages
from flask_keel.auth import current_user, logout
from flask_keel.payloads import json_body
from flask_keel.rpc import RpcRequest, named_request
from Models.Forms.accounts import EmailIn, ResetIn, ResetPasswordForm, ResetRequestForm


@pages.route("/password/forgot", methods=["GET", "POST"])
def forgot_password():
    """The form that asks for a reset link by email address."""
    form = ResetRequestForm()
    if form.validate_on_submit():
        message = recovery.ask_password_reset(form.email.data)
        return render_template("accounts/mail_sent.html", title="Check your mail", message=message)
    return render_template("accounts/forgot_password.html", form=form), 400 if form.errors else 200


@pages.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    """The form that sets a new password, from a reset link."""
    user = recovery.user_of_reset_token(token)
    form = ResetPasswordForm()
    if form.validate_on_submit():
        recovery.reset_password(token, form.password.data)
        if current_user.is_authenticated and current_user.id == user.id:
            logout()
        flash("Your password is changed, and every session of your account has ended. Log in with it.", "success")
        return redirect(url_for("accounts.login"))
    return render_template("accounts/reset_password.html", form=form, user=user), 400 if form.errors else 200


@api.post("/password/forgot")
def forgot_password_api():
    """Ask for a reset link by email address; 202 whatever the address."""
    return jsonify(message=recovery.ask_password_reset(json_body(EmailIn).email)), 202


@api.post("/password/reset")
def reset_password_api():
    """Set a new password with the token of a reset link; every session of the account ends."""
    payload = json_body(ResetIn)
    user = recovery.reset_password(payload.token, payload.password)
    return jsonify(reset=True, username=user.username)


@named_request(api, "password.forgot", public=True)
def forgot_password_request(request: RpcRequest) -> dict:
    """Ask for a reset link by email address; the same answer whatever the address."""
    return {"message": recovery.ask_password_reset(request.parse(EmailIn).email)}


@named_request(api, "password.reset", public=True)
def reset_password_request(request: RpcRequest) -> dict:
    """Set a new password with the token of a reset link; every session of the account ends."""
    payload = request.parse(ResetIn)
    return {"reset": True, "username": recovery.reset_password(payload.token, payload.password).username}
