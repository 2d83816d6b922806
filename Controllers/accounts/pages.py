"""Signup, login and logout pages, and the dashboard: the shell every feature adds
its panel to (flask_keel.ui.dashboard_panel), beside the live panel fed by Socket.IO."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from Controllers.accounts.service import create_user, email_taken, username_taken
from Controllers.accounts.verification import EmailNotVerified, login_blocked, verification_mode
from flask_keel.auth import (
    authenticate,
    current_user,
    login_rate_limit,
    login_required,
    logout,
    safe_next,
    signup_rate_limit,
)
from flask_keel.auth import login as log_in  # the page below is `login`: its endpoint is accounts.login
from flask_keel.ui import panels
from Models.Forms.accounts import LoginForm, SignupForm

pages = Blueprint("accounts", __name__)


@pages.route("/signup", methods=["GET", "POST"])
@signup_rate_limit
def signup():
    if current_user.is_authenticated:
        return redirect(url_for("accounts.dashboard"))
    form = SignupForm()
    if form.validate_on_submit():
        if username_taken(form.username.data):
            form.username.errors.append("This username is taken; pick another.")
        elif email_taken(form.email.data):
            form.email.errors.append("An account uses this address already. Forgot its password? Reset it.")
        else:
            user = create_user(form.username.data, form.email.data, form.password.data)
            if verification_mode() == "required":
                return render_template("accounts/mail_sent.html", title="Confirm your address", message=(
                    f"Your account is ready. Follow the link we mailed to {user.email} to log in."))
            log_in(user)
            flash(f"Welcome, {user.username}. Your account is ready.", "success")
            return redirect(url_for("accounts.dashboard"))
    return render_template("accounts/signup.html", form=form), 400 if form.errors else 200


@pages.route("/login", methods=["GET", "POST"])
@login_rate_limit
def login():
    form = LoginForm()
    next_url = safe_next(request.args.get("next"), url_for("accounts.dashboard"))
    if form.validate_on_submit():
        user = authenticate(form.username.data, form.password.data)
        if user is None:
            form.password.errors.append("Wrong username or password.")
        elif login_blocked(user):
            form.username.errors.append(EmailNotVerified.description)
        else:
            log_in(user)
            flash(f"Signed in as {user.username}.", "success")
            return redirect(next_url)
    return render_template("accounts/login.html", form=form, next_url=next_url), 400 if form.errors else 200


@pages.post("/logout")
def logout_page():
    logout()
    flash("You are signed out.", "info")
    return redirect(url_for("core.home"))


def render_dashboard(status: int = 200, **forms: Any):
    """The dashboard with every feature's panel; `forms` (by name) shown again with their errors."""
    return render_template("dashboard.html", user=current_user, panels=panels(current_user, forms)), status


@pages.get("/dashboard")
@login_required
def dashboard():
    return render_dashboard()
