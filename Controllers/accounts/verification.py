"""Email verification: a link mailed at signup (and again on request) proves the
address is the user's. FLASK.CONFIG.EMAIL_VERIFICATION says what it gates:
`off` (nothing is mailed), `optional` (a reminder until verified) or `required`
(no login until verified)."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import current_app
from werkzeug.exceptions import BadRequest, Forbidden

from Controllers.accounts.limits import count_mail_request
from Controllers.accounts.mails import send_verification, send_verification_to
from Controllers.accounts.tokens import LinkUsed, fingerprint, read_token
from flask_keel.db import db
from Models.Persistent.accounts import User, normalise_email

MODES = ("off", "optional", "required")
DEFAULT_MODE = "optional"
RESENT = "If an unconfirmed account uses this address, a new confirmation link is on its way."


class EmailNotVerified(Forbidden):
    error_code = "email_not_verified"
    description = ("Confirm your email address first: follow the link we mailed you, "
                   "or ask for a new one at /verify/resend.")


class NoAddress(BadRequest):
    error_code = "no_address"
    description = "Give the email address to send the confirmation link to."


def verification_mode() -> str:
    mode = str(current_app.config.get("EMAIL_VERIFICATION") or DEFAULT_MODE).lower()
    if mode not in MODES:
        raise RuntimeError(f"FLASK.CONFIG.EMAIL_VERIFICATION is {mode!r}: use one of {', '.join(MODES)}")
    return mode


def check_mode(app) -> None:
    """At startup: a typo in the setting stops the app rather than turning verification off."""
    with app.app_context():
        verification_mode()


def start_verification(user: User) -> None:
    """After signup: mail the link, unless verification is off."""
    if verification_mode() != "off" and user.email and not user.email_verified:
        send_verification.enqueue_for(None, user.id)


def login_blocked(user: User) -> bool:
    """Verification is required and this user has not verified."""
    return verification_mode() == "required" and not user.email_verified


def may_log_in(user: User) -> None:
    """EmailNotVerified (403) when the user may not log in before verifying."""
    if login_blocked(user):
        raise EmailNotVerified()


def needs_reminder(user) -> bool:
    """Show the "confirm your address" reminder to this signed-in user."""
    if verification_mode() == "off" or not getattr(user, "is_authenticated", False):
        return False
    return not user.email_verified  # the row the request has already loaded for the page


def verify_email(token: str) -> User:
    """Mark the address of the link verified (again is harmless); 400 for a bad link,
    or one whose address is no longer the account's."""
    data = read_token("verify", token)
    user = db.session.get(User, data["u"])
    if user is None or not user.email or data.get("e") != fingerprint(user.email):
        raise LinkUsed()
    if not user.email_verified:
        user.email_verified_at = datetime.now(UTC)
        db.session.commit()
    return user


def resend_verification(email: str | None, user=None) -> str:
    """Mail the link again, to `email` or the signed-in `user`'s address (rate limited)."""
    if email is None:
        record = db.session.get(User, user.id) if getattr(user, "is_authenticated", False) else None
        if record is None or not record.email:
            raise NoAddress()
        email = record.email
    address = normalise_email(email)
    count_mail_request(address)
    send_verification_to.enqueue_for(None, address)
    return RESENT
