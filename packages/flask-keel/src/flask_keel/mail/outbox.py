"""Mail without an SMTP server (no SERVICES.mail.HOST, the embedded defaults): each
message is written as an .eml file under INSTANCE_PATH/mail, readable by any mail
client, and in DEV its links are logged, so a reset works with nothing installed."""

from __future__ import annotations

import logging
import os
import re
import time
from pathlib import Path

from flask_keel.extensions import current_settings

log = logging.getLogger("flask_keel.mail")

LINK = re.compile(r"https?://[^\s<>\"']+")


def outbox_dir() -> Path:
    return current_settings().instance_path / "mail"


def write_eml(data: bytes, to: str, subject: str, text: str) -> Path:
    """Write one message; only the app's user can read it (its links are credentials)."""
    folder = outbox_dir()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / f"{time.strftime('%Y%m%dT%H%M%S')}-{os.urandom(4).hex()}.eml"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
    if current_settings().server.ENV == "DEV":
        links = " ".join(LINK.findall(text)) or "(no links)"
        log.info("mail to %s, %r, written to %s; links: %s", to, subject, path, links)
    else:
        log.info("SERVICES.mail has no HOST: mail %r written to %s, not sent", subject, path)
    return path
