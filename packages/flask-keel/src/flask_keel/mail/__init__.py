"""Mail: Flask-Mail over SMTP (STARTTLS or TLS), sent from a background job.

    from flask_keel.mail import public_url_for, send_mail

    link = public_url_for("accounts.reset_password", token=token)   # on SERVER_ENV.PUBLIC_URL
    send_mail(user.email, "Reset your password", f"Follow {link} ...")

`send_mail` only enqueues (flask_keel.jobs): a slow or unreachable SMTP server never
holds a request, and the job retries (SERVICES.mail.ATTEMPTS) and logs a failure once.
With no SERVICES.mail.HOST each message is written as an .eml file under
INSTANCE_PATH/mail, its links logged in DEV. Links come from PUBLIC_URL, never from
the request's Host header.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import flask_mail

from flask_keel.mail.delivery import deliver_mail
from flask_keel.mail.links import public_base, public_url, public_url_for
from flask_keel.mail.outbox import outbox_dir

if TYPE_CHECKING:
    from flask import Flask

    from flask_keel.config import Settings

__all__ = ["deliver_mail", "init_mail", "outbox_dir", "public_base", "public_url", "public_url_for", "send_mail"]

# Flask-Mail is given SERVICES.mail as its MAIL_* settings; FLASK.CONFIG cannot override them.
_FLASK_MAIL_KEYS = ("MAIL_SERVER", "MAIL_PORT", "MAIL_USE_TLS", "MAIL_USE_SSL", "MAIL_USERNAME", "MAIL_PASSWORD",
                    "MAIL_DEFAULT_SENDER", "MAIL_SUPPRESS_SEND")


def init_mail(app: Flask, settings: Settings) -> None:
    mail = settings.mail
    values = (mail.HOST or "", mail.PORT, mail.SECURITY == "starttls", mail.SECURITY == "tls", mail.USERNAME,
              mail.PASSWORD, mail.SENDER, False)
    app.config.update(dict(zip(_FLASK_MAIL_KEYS, values, strict=True)))
    flask_mail.Mail().init_app(app)


def send_mail(to: str, subject: str, text: str, html: str | None = None) -> str:
    """Enqueue one message to `to`; the job's id. ValueError for a header that would
    carry a line break (header injection)."""
    for value in (to, subject):
        if "\r" in value or "\n" in value:
            raise ValueError("mail headers cannot contain line breaks")
    # Nobody is told of a mail job's progress: the person who asked may not be signed in.
    return deliver_mail.enqueue_for(None, to, subject, text, html)
