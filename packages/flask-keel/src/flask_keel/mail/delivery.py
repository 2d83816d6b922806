"""Sending one message: over SMTP (STARTTLS or TLS, certificates verified, a timeout on
every step), retried within its job, or into the outbox when no SMTP host is set.

Retries happen inside the job (ATTEMPTS, waits doubling from RETRY_DELAY) so that a
failure is logged once, when the last attempt fails, rather than as a traceback per
attempt; a refusal retrying cannot fix (a 5xx, bad credentials) is not retried.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import time

import flask_mail
from flask import current_app

from flask_keel.extensions import current_settings
from flask_keel.jobs import JobError, task
from flask_keel.mail.outbox import write_eml

log = logging.getLogger("flask_keel.mail")


class VerifiedConnection(flask_mail.Connection):
    """Flask-Mail's connection with a timeout and a verified TLS certificate (smtplib's
    starttls() without a context accepts any certificate)."""

    def configure_host(self) -> smtplib.SMTP:
        state, timeout = self.mail, current_settings().mail.TIMEOUT
        context = ssl.create_default_context()
        if state.use_ssl:
            host: smtplib.SMTP = smtplib.SMTP_SSL(state.server, state.port, timeout=timeout, context=context)
        else:
            host = smtplib.SMTP(state.server, state.port, timeout=timeout)
        if state.use_tls:
            host.starttls(context=context)
        if state.username and state.password:
            host.login(state.username, state.password)
        return host


def permanent(exc: Exception) -> bool:
    """A refusal that the same message cannot get past by trying again."""
    if isinstance(exc, (smtplib.SMTPAuthenticationError, smtplib.SMTPNotSupportedError)):
        return True
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    code = getattr(exc, "smtp_code", None)
    return isinstance(code, int) and code >= 500


def masked(address: str) -> str:
    """An address as logged: enough to tell messages apart, not the whole address."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


def build_message(to: str, subject: str, text: str, html: str | None) -> flask_mail.Message:
    return flask_mail.Message(subject, recipients=[to], body=text, html=html, sender=current_settings().mail.SENDER)


@task()
def deliver_mail(to: str, subject: str, text: str, html: str | None = None) -> dict:
    message = build_message(to, subject, text, html)
    settings = current_settings().mail
    if not settings.enabled:
        write_eml(message.as_bytes(), to, subject, text)
        return {"written": True}
    delay = settings.RETRY_DELAY
    for attempt in range(1, settings.ATTEMPTS + 1):
        try:
            with VerifiedConnection(current_app.extensions["mail"]) as connection:
                connection.send(message)
        except (smtplib.SMTPException, OSError) as exc:
            if attempt == settings.ATTEMPTS or permanent(exc):
                log.error("mail %r to %s not sent (attempt %d of %d): %r", subject, masked(to), attempt,
                          settings.ATTEMPTS, exc)
                raise JobError(f"mail not sent: {exc!r}") from None
            time.sleep(delay)
            delay *= 2
        else:
            return {"sent": True, "attempts": attempt}
    raise AssertionError("unreachable")  # pragma: no cover
