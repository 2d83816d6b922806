"""Deployment checks for `flask config check`, in the spirit of Django's `check --deploy`.

In PROD each finding is an error; elsewhere the same findings are warnings, so a
development config can be checked without noise turning into failures.
"""

from __future__ import annotations

import math
import string
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from flask_keel.config.files import is_masked
from flask_keel.config.loader import Settings
from flask_keel.config.schema import RedisService

MIN_KEY_LENGTH = 32
MIN_KEY_BITS = 128
MIN_KEY_DISTINCT_CHARACTERS = 10
GENERATE_KEY = "generate one with `python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
# Values copied from examples that must never sign production sessions.
PLACEHOLDER_KEYS = {"changeme", "change-me", "change_me", "secret", "secretkey", "secret-key", "dev",
                    "development", "password", "example", "test", "default", "insecure", "xxx"}
PLACEHOLDER_MARKERS = ("changeme", "change-me", "change_me", "replace-me", "replace_me", "placeholder",
                       "your-secret", "your_secret", "example", "insecure")


@dataclass(frozen=True)
class Finding:
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}"


def _key_findings(key: str | None) -> list[Finding]:
    if not key:
        return [Finding("SERVER_ENV.APP_KEY", "is not set")]
    lowered = key.strip().lower()
    if is_masked(key) or lowered in PLACEHOLDER_KEYS or any(marker in lowered for marker in PLACEHOLDER_MARKERS):
        return [Finding("SERVER_ENV.APP_KEY", f"is a placeholder value; {GENERATE_KEY}")]
    if len(key) < MIN_KEY_LENGTH:
        return [Finding("SERVER_ENV.APP_KEY", f"is {len(key)} characters long; use at least {MIN_KEY_LENGTH}")]
    weakness = _key_weakness(key)
    return [Finding("SERVER_ENV.APP_KEY", f"{weakness}; {GENERATE_KEY}")] if weakness else []


def _key_weakness(key: str) -> str | None:
    """Why a key long enough to pass is still easy to guess, or None."""
    if is_repetition(key):
        return "repeats a shorter string"
    distinct = len(set(key))
    if distinct < MIN_KEY_DISTINCT_CHARACTERS:
        return f"has only {distinct} distinct characters (at least {MIN_KEY_DISTINCT_CHARACTERS} needed)"
    bits = estimated_bits(key)
    if bits < MIN_KEY_BITS:
        return (f"has an estimated {math.floor(bits)} bits of entropy ({len(key)} characters from an alphabet "
                f"of {alphabet_size(key)}; at least {MIN_KEY_BITS} needed)")
    return None


def is_repetition(text: str) -> bool:
    """True for `abcabc`, `aaaa`, `password` * 4: the text is a shorter string repeated.

    A string is a repetition exactly when it occurs inside itself doubled with the first and last
    characters removed (the copy found there starts at a multiple of the period).
    """
    return len(text) > 1 and text in (text + text)[1:-1]


def alphabet_size(key: str) -> int:
    """How many characters the key's kinds of characters allow: digits only 10, one-case hex 16,
    else the sum of the kinds used (lowercase 26, uppercase 26, digits 10, anything else 33, the
    ASCII punctuation and space)."""
    characters = set(key)
    if characters <= set(string.digits):
        return 10
    if characters <= set(string.digits + "abcdef") or characters <= set(string.digits + "ABCDEF"):
        return 16
    kinds = ((string.ascii_lowercase, 26), (string.ascii_uppercase, 26), (string.digits, 10))
    size = sum(count for kind, count in kinds if characters & set(kind))
    return size + (33 if characters - set(string.ascii_letters + string.digits) else 0)


def estimated_bits(key: str) -> float:
    """Entropy estimate: length x log2(alphabet size).

    A key of n characters drawn at random from an alphabet of A takes up to A**n guesses, that is
    n * log2(A) bits. The estimate trusts that the characters were drawn at random, so it is what
    a generated key is really worth (token_hex(32): 64 x 4 = 256 bits; token_urlsafe(32): 43
    characters x about 6 = 256 and more) and an upper bound for a key typed by hand; patterned keys
    that it overrates are caught by the repetition and distinct-character rules before it.
    """
    return len(key) * math.log2(alphabet_size(key))


def _redis_findings(redis: RedisService) -> list[Finding]:
    """A Redis holding sessions and cache must not let anyone on the network read or write them."""
    if not redis.enabled:
        return []
    if redis.URL and not _url_has_password(redis.URL):
        # redis-py takes everything from the URL then: PASSWORD is not used.
        return [Finding("SERVICES.redis.PASSWORD", "SERVICES.redis.URL has no password (PASSWORD is not used "
                                                   "with URL); Redis must require a password in production")]
    if not redis.URL and not redis.PASSWORD:
        return [Finding("SERVICES.redis.PASSWORD", "is not set; Redis must require a password in production")]
    return []


def _url_has_password(url: str) -> bool:
    """`redis://:pw@host` or `redis://host?password=pw` (redis-py reads both)."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return False
    return bool(password) or bool(parse_qs(parts.query).get("password", [""])[0])


def deploy_findings(settings: Settings) -> list[Finding]:
    """What would make this config unsafe to run in production."""
    findings = _key_findings(settings.server.APP_KEY)
    flask = settings.flask_config
    if settings.server.DEBUG or flask.get("DEBUG"):
        findings.append(Finding("SERVER_ENV.DEBUG" if settings.server.DEBUG else "FLASK.CONFIG.DEBUG",
                                "debug mode is on; it runs the interactive debugger and shows tracebacks"))
    if flask.get("SESSION_COOKIE_SECURE") is False:
        findings.append(Finding("FLASK.CONFIG.SESSION_COOKIE_SECURE", "is false; session cookies would be sent "
                                                                      "over plain HTTP"))
    if flask.get("SESSION_COOKIE_HTTPONLY") is False:
        findings.append(Finding("FLASK.CONFIG.SESSION_COOKIE_HTTPONLY", "is false; scripts could read the "
                                                                        "session cookie"))
    if str(flask.get("SESSION_COOKIE_SAMESITE", "Lax")).lower() == "none":
        findings.append(Finding("FLASK.CONFIG.SESSION_COOKIE_SAMESITE", "is None; other sites' requests would "
                                                                        "carry the session cookie"))
    for name, entry in settings.databases.items():
        for field in ("user", "password"):
            if is_masked(getattr(entry, field)):
                findings.append(Finding(f"DATABASE.{name}.{field}", "is a masked example value "
                                                                    f"({getattr(entry, field)})"))
    return findings + _redis_findings(settings.redis)
