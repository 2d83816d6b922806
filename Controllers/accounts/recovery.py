"""Password reset: asked for by email address, done from the link mailed to it.

Shared by the page, the JSON endpoint and the named request. Asking does the same
work whatever the address (count the limits, enqueue a job): the answer, its status
and its timing never tell whether an account has the address.
"""

from __future__ import annotations

from datetime import UTC, datetime

from Controllers.accounts.limits import count_mail_request
from Controllers.accounts.mails import send_reset_link
from Controllers.accounts.tokens import LinkUsed, fingerprint, read_token
from flask_keel.auth import end_user_logins
from flask_keel.db import db
from Models.Persistent.accounts import User, normalise_email

ASKED = "If an account uses this address, a link to reset its password is on its way. It is valid for an hour."


def ask_password_reset(email: str) -> str:
    """Count the attempt (429 past a limit), enqueue the mail job; the message to show."""
    address = normalise_email(email)
    count_mail_request(address)
    send_reset_link.enqueue_for(None, address)
    return ASKED


def user_of_reset_token(token: str) -> User:
    """The user a reset link is for; 400 when it is invalid, expired or spent."""
    data = read_token("reset", token)
    user = db.session.get(User, data["u"])
    if user is None or data.get("p") != fingerprint(user.password_hash):
        raise LinkUsed()
    return user


def reset_password(token: str, password: str) -> User:
    """Set the new password; every session and socket of the user ends."""
    user = user_of_reset_token(token)
    user.set_password(password)
    if user.email and not user.email_verified:
        user.email_verified_at = datetime.now(UTC)  # the link reached them: they read this address
    db.session.commit()
    end_user_logins(user)
    return user
