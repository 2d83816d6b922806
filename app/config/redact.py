"""Hiding secrets in a config before it is shown or logged."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

REDACTED = "********"
_SECRET_KEY = re.compile(r"(KEY|PASSWORD|PASSWD|PASS|SECRET|TOKEN|CREDENTIAL)", re.IGNORECASE)


def is_secret_key(key: str) -> bool:
    return bool(_SECRET_KEY.search(key))


def redact_url(value: str) -> str:
    """`redis://:pw@host/0` -> `redis://:********@host/0`; other strings unchanged."""
    if "://" not in value or "@" not in value:
        return value
    try:
        parts = urlsplit(value)
    except ValueError:
        return value
    if parts.password is None:
        return value
    userinfo = f"{parts.username or ''}:{REDACTED}"
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{host}"))


def redact(tree: Any, key: str = "") -> Any:
    if isinstance(tree, dict):
        return {name: redact(value, str(name)) for name, value in tree.items()}
    if isinstance(tree, list):
        return [redact(value, key) for value in tree]
    if key and is_secret_key(key) and tree not in (None, ""):
        return REDACTED
    if isinstance(tree, str):
        return redact_url(tree)
    return tree
