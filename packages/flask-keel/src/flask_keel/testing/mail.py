"""A real SMTP server in the test process (aiosmtpd) that keeps what it receives, for
tests that follow the links out of the mail an app sends."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import threading
import time
from email.message import EmailMessage

from flask_keel.testing.helpers import free_port

LINK = re.compile(r"https?://[^\s<>\"']+")


class MailCatcher:
    """SMTP on 127.0.0.1:`port`; `messages` holds every message received, parsed."""

    def __init__(self, port: int | None = None, delay: float = 0, **smtp_options):
        """`delay`: seconds each message waits before it is accepted (a slow server);
        `smtp_options`: aiosmtpd's (tls_context and require_starttls, ssl_context, authenticator...)."""
        from aiosmtpd.controller import Controller

        self.port = port or free_port()
        self.delay = delay
        self.messages: list[EmailMessage] = []
        self._received = threading.Condition()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port, **smtp_options)

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        if self.delay:
            await asyncio.sleep(self.delay)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._received:
            self.messages.append(message)
            self._received.notify_all()
        return "250 OK"

    def start(self) -> MailCatcher:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def settings(self, **extra) -> dict:
        """SERVICES.mail for an app that sends here (plain SMTP, quick retries)."""
        return {"HOST": "127.0.0.1", "PORT": self.port, "SECURITY": "none", "RETRY_DELAY": 0.1, **extra}

    def to(self, address: str, subject: str | None = None) -> list[EmailMessage]:
        """The messages to `address` (with this subject, if given), in the order received."""
        return [message for message in self.messages if address.lower() in str(message["To"]).lower()
                and (subject is None or message["Subject"] == subject)]

    def wait_for(self, address: str, count: int = 1, subject: str | None = None,
                 timeout: float = 15.0) -> list[EmailMessage]:
        """The messages to `address` (and `subject`) once there are `count`; AssertionError after `timeout` s."""
        deadline = time.monotonic() + timeout
        with self._received:
            while len(self.to(address, subject)) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"{len(self.to(address, subject))} of {count} messages to {address} arrived within "
                        f"{timeout} s; received: {[(m['To'], m['Subject']) for m in self.messages]}")
                self._received.wait(left)
            return self.to(address, subject)


def text_of(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def links_in(message: EmailMessage) -> list[str]:
    return LINK.findall(text_of(message))
