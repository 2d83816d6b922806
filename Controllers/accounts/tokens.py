"""Signed, expiring tokens for the links accounts mail out (itsdangerous).

Each kind has its own salt, so a token of one kind is never accepted as another,
and its own lifetime. A reset token carries a fingerprint of the password hash:
the reset changes the hash (a new salt every time), so the token works once and
dies with any other password change. Tokens are signed with APP_KEY, readable by
whoever holds them: they carry ids and addresses, never secrets.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from werkzeug.exceptions import BadRequest

# Seconds each kind of link stays valid.
LIFETIMES = {"reset": 3600, "verify": 3 * 24 * 3600, "change-email": 24 * 3600}


class LinkInvalid(BadRequest):
    error_code = "invalid_link"
    description = "This link is not valid: it may be cut short. Ask for a new one."


class LinkExpired(BadRequest):
    error_code = "expired_link"
    description = "This link has expired. Ask for a new one."


class LinkUsed(BadRequest):
    error_code = "used_link"
    description = "This link has been used already, or the account changed since. Ask for a new one."


@dataclass(frozen=True)
class Link:
    kind: str
    data: dict[str, Any]


def _serializer(kind: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=f"accounts.{kind}")


def fingerprint(value: str | None) -> str:
    """A short keyed digest of `value` (a password hash, an address): it changes when the value does."""
    key = str(current_app.secret_key).encode()
    return hmac.new(key, (value or "").encode(), hashlib.sha256).hexdigest()[:20]


def make_token(kind: str, **data: Any) -> str:
    return _serializer(kind).dumps(data)


def read_token(kind: str, token: str) -> dict[str, Any]:
    """The data a token of `kind` carries; LinkExpired or LinkInvalid (400) otherwise."""
    try:
        data = _serializer(kind).loads(token, max_age=LIFETIMES[kind])
    except SignatureExpired:
        raise LinkExpired() from None
    except BadSignature:
        raise LinkInvalid() from None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        raise LinkInvalid()
    return data
