"""Signup, login and logout pages."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from app.auth import authenticate, current_user, login, login_rate_limit, logout, safe_next, signup_rate_limit
from Controllers.accounts import create_user, username_taken
from Models.Forms.auth import LoginForm, SignupForm


@signup_rate_limit
def signup():
    if current_user.is_authenticated:
        return redirect(url_for("dashboard"))
    form = SignupForm()
    if form.validate_on_submit():
        if username_taken(form.username.data):
            form.username.errors.append("This username is taken; pick another.")
        else:
            user = create_user(form.username.data, form.email.data, form.password.data)
            login(user)
            flash(f"Welcome, {user.username}. Your account is ready.", "success")
            return redirect(url_for("dashboard"))
    return render_template("signup.html", form=form), 400 if form.errors else 200


@login_rate_limit
def login_page():
    form = LoginForm()
    next_url = safe_next(request.args.get("next"), url_for("dashboard"))
    if form.validate_on_submit():
        user = authenticate(form.username.data, form.password.data)
        if user is not None:
            login(user)
            flash(f"Signed in as {user.username}.", "success")
            return redirect(next_url)
        form.password.errors.append("Wrong username or password.")
    return render_template("login.html", form=form, next_url=next_url), 400 if form.errors else 200


def logout_page():
    logout()
    flash("You are signed out.", "info")
    return redirect(url_for("home"))
