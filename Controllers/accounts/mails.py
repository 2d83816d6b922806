"""The mail accounts send, each composed and sent by a background job.

A job, not the request, looks the address up: the request that asks for a reset
link does the same work whether or not an account has that address, so neither its
answer nor its timing tells an attacker which addresses have accounts.
"""

from __future__ import annotations

from flask import render_template

from Controllers.accounts.tokens import fingerprint, make_token
from flask_keel.db import db
from flask_keel.jobs import task
from flask_keel.mail import deliver_mail, public_url_for
from Models.Persistent.accounts import User, normalise_email


def user_with_email(address: str) -> User | None:
    return db.session.scalar(db.select(User).where(User.email == normalise_email(address)))


def _send(to: str, subject: str, template: str, **context) -> None:
    deliver_mail.run(to, subject, render_template(f"accounts/mail/{template}", **context))


@task()
def send_reset_link(address: str) -> dict:
    user = user_with_email(address)
    if user is None:
        return {"sent": False}
    token = make_token("reset", u=user.id, p=fingerprint(user.password_hash))
    _send(user.email, "Reset your password", "reset.txt", user=user,
          link=public_url_for("accounts.reset_password", token=token))
    return {"sent": True}


def _send_verification(user: User) -> None:
    token = make_token("verify", u=user.id, e=fingerprint(user.email))
    _send(user.email, "Confirm your email address", "verify.txt", user=user,
          link=public_url_for("accounts.verify_email", token=token))


@task()
def send_verification(user_id: int) -> dict:
    """To a user just signed up (the request knows the account exists)."""
    user = db.session.get(User, user_id)
    if user is None or not user.email or user.email_verified:
        return {"sent": False}
    _send_verification(user)
    return {"sent": True}


@task()
def send_verification_to(address: str) -> dict:
    """Again, to whoever asks for an address: sent only if an unverified account has it."""
    user = user_with_email(address)
    if user is None or user.email_verified:
        return {"sent": False}
    _send_verification(user)
    return {"sent": True}


@task()
def send_email_change(user_id: int, new_email: str) -> dict:
    """The confirmation link to the new address, and a notice to the old one."""
    user = db.session.get(User, user_id)
    if user is None:
        return {"sent": False}
    reset_link = public_url_for("accounts.forgot_password")
    if user_with_email(new_email) is not None:  # told to the address's owner, never to the asker
        _send(new_email, "An account already uses this address", "address_taken.txt", address=new_email,
              reset_link=reset_link)
        return {"sent": False}
    token = make_token("change-email", u=user.id, o=fingerprint(user.email), n=new_email)
    _send(new_email, "Confirm your new email address", "change_email.txt", user=user, new_email=new_email,
          link=public_url_for("accounts.confirm_email_change", token=token))
    if user.email:
        _send(user.email, "Your email address is being changed", "change_email_notice.txt", user=user,
              new_email=new_email, reset_link=reset_link)
    return {"sent": True}
