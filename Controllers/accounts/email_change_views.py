"""Changing one's email address as pages, JSON endpoints and named requests (the
functions are in Controllers/accounts/email_change.py)."""

from __future__ import annotations

from flask import flash, jsonify, redirect, render_template, url_for
from flask_wtf import FlaskForm

from Controllers.accounts import email_change
from Controllers.accounts.api import api
from Controllers.accounts.pages import pages
from Controllers.accounts.tokens import read_token
from flask_keel.auth import current_user, login_required
from flask_keel.payloads import json_body
from flask_keel.rpc import RpcRequest, named_request
from Models.Forms.accounts import ChangeEmailForm, ChangeEmailIn, TokenIn


@pages.route("/account/email", methods=["GET", "POST"])
@login_required
def change_email():
    """The form that asks to change the signed-in user's address (needs the password)."""
    form = ChangeEmailForm()
    if form.validate_on_submit():
        try:
            message = email_change.ask_email_change(current_user, form.email.data, form.password.data)
        except (email_change.WrongPassword, email_change.SameAddress) as refused:
            getattr(form, refused.field).errors.append(refused.description)
        else:
            return render_template("accounts/mail_sent.html", title="Check your new address", message=message)
    return render_template("accounts/change_email.html", form=form), 400 if form.errors else 200


@pages.route("/account/email/confirm/<token>", methods=["GET", "POST"])
def confirm_email_change(token: str):
    """Confirm an address change from the link mailed to the new address (a button: POST)."""
    # GET only shows what the link does: a mail scanner fetching links changes nothing.
    new_email = read_token("change-email", token).get("n")
    form = FlaskForm()
    if form.validate_on_submit():
        user = email_change.confirm_email_change(token)
        flash(f"Your address is now {user.email}. Your other sessions have ended.", "success")
        return redirect(url_for("accounts.dashboard" if current_user.is_authenticated else "accounts.login"))
    return render_template("accounts/confirm_email_change.html", form=form, new_email=new_email)


@api.post("/account/email")
@login_required
def change_email_api():
    """Ask to change the signed-in user's address (needs their password); a link goes to the new one."""
    payload = json_body(ChangeEmailIn)
    return jsonify(message=email_change.ask_email_change(current_user, payload.email, payload.password)), 202


@api.post("/account/email/confirm")
def confirm_email_change_api():
    """Apply an address change with the token of its link; the user's other sessions end."""
    user = email_change.confirm_email_change(json_body(TokenIn).token)
    return jsonify(user.to_dict())


@named_request(api, "email.change")
def change_email_request(request: RpcRequest) -> dict:
    """Ask to change the signed-in user's address (needs their password); a link goes to the new one."""
    payload = request.parse(ChangeEmailIn)
    return {"message": email_change.ask_email_change(request.user, payload.email, payload.password)}


@named_request(api, "email.change_confirm", public=True)
def confirm_email_change_request(request: RpcRequest) -> dict:
    """Apply an address change with the token of its link; the user's other sessions end."""
    return email_change.confirm_email_change(request.parse(TokenIn).token).to_dict()
