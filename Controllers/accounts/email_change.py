"""Changing a user's email address: confirmed from the new address before it takes
effect, with a notice to the old one; the user's other sessions then end."""

from __future__ import annotations

from datetime import UTC, datetime

from flask_login import current_user
from werkzeug.exceptions import BadRequest, Conflict

from Controllers.accounts.limits import client_address, count_mail_request
from Controllers.accounts.mails import send_email_change, user_with_email
from Controllers.accounts.tokens import LinkUsed, fingerprint, read_token
from flask_keel.auth import count_attempt, end_user_logins
from flask_keel.db import db
from Models.Persistent.accounts import User, normalise_email

ASKED = "A link to confirm the new address is on its way to it. Your address changes when you follow it."


class WrongPassword(BadRequest):
    error_code = "wrong_password"
    description = "Your password is not right."
    field = "password"


class SameAddress(BadRequest):
    error_code = "same_address"
    description = "This is your address already."
    field = "email"


class AddressTaken(Conflict):
    error_code = "duplicate"
    description = "Another account uses this address now."
    field = "email"


def ask_email_change(user, new_email: str, password: str) -> str:
    """Check the password (it counts as a login attempt), then mail the link; the message."""
    record = db.session.get(User, user.id)
    count_attempt("login", client_address())
    if record is None or not record.check_password(password):
        raise WrongPassword()
    address = normalise_email(new_email)
    if address == record.email:
        raise SameAddress()
    count_mail_request(address)
    send_email_change.enqueue_for(None, record.id, address)
    return ASKED


def confirm_email_change(token: str) -> User:
    """Apply the change a link confirms; the user's other sessions and sockets end."""
    data = read_token("change-email", token)
    user = db.session.get(User, data["u"])
    new_email = data.get("n")
    if user is None or not isinstance(new_email, str) or data.get("o") != fingerprint(user.email):
        raise LinkUsed()
    holder = user_with_email(new_email)
    if holder is not None and holder.id != user.id:
        raise AddressTaken()
    user.email = new_email
    user.email_verified_at = datetime.now(UTC)
    db.session.commit()
    here = getattr(current_user, "is_authenticated", False) and current_user.id == user.id
    end_user_logins(user, keep_current=here)
    return user
