"""Email verification as pages, JSON endpoints and named requests (the functions are in
Controllers/accounts/verification.py), and the dashboard's reminder until verified."""

from __future__ import annotations

from flask import flash, jsonify, redirect, render_template, url_for

from Controllers.accounts import verification
from Controllers.accounts.api import api
from Controllers.accounts.pages import pages
from flask_keel.auth import current_user
from flask_keel.payloads import json_body
from flask_keel.rpc import RpcRequest, named_request
from flask_keel.ui import dashboard_panel
from Models.Forms.accounts import ResendIn, ResendVerificationForm, TokenIn

pages.record_once(lambda state: verification.check_mode(state.app))


@pages.get("/verify/<token>")
def verify_email(token: str):
    """Confirm an email address from the link mailed to it."""
    user = verification.verify_email(token)
    flash(f"Thank you: {user.email} is confirmed.", "success")
    return redirect(url_for("accounts.dashboard" if current_user.is_authenticated else "accounts.login"))


@pages.route("/verify/resend", methods=["GET", "POST"])
def resend_verification():
    """The form that mails the confirmation link again."""
    form = ResendVerificationForm()
    if form.validate_on_submit():
        message = verification.resend_verification(form.email.data)
        return render_template("accounts/mail_sent.html", title="Check your mail", message=message)
    return render_template("accounts/resend_verification.html", form=form), 400 if form.errors else 200


@dashboard_panel(pages, "accounts/verify_reminder.html")
def verify_reminder(user, forms) -> dict:
    return {"show": verification.needs_reminder(user), "email": getattr(user, "email", None)}


@api.post("/email/verify")
def verify_email_api():
    """Confirm an email address with the token of its link."""
    user = verification.verify_email(json_body(TokenIn).token)
    return jsonify(verified=True, email=user.email)


@api.post("/email/verify/resend")
def resend_verification_api():
    """Mail the confirmation link again: to `email`, or to the signed-in user's address."""
    payload = json_body(ResendIn)
    return jsonify(message=verification.resend_verification(payload.email, current_user)), 202


@named_request(api, "email.verify", public=True)
def verify_email_request(request: RpcRequest) -> dict:
    """Confirm an email address with the token of its link."""
    return {"verified": True, "email": verification.verify_email(request.parse(TokenIn).token).email}


@named_request(api, "email.verify_resend", public=True)
def resend_verification_request(request: RpcRequest) -> dict:
    """Mail the confirmation link again: to `email`, or to the signed-in user's address."""
    return {"message": verification.resend_verification(request.parse(ResendIn).email, request.user)}
