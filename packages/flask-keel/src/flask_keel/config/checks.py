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

# What secrets.token_urlsafe(32) gives: 43 characters, 256 bits. A shorter key is not one generated so.
MIN_KEY_LENGTH = 43
MIN_KEY_BITS = 128
MIN_KEY_DISTINCT_CHARACTERS = 10
# Runs of consecutive characters (abcd, 4321) or along a keyboard row (qwer) are typed, not drawn. A
# random key has a short one now and then (a hex key a 4-run in 1 of 30), so the key is refused for a
# run of 8 or more, or for runs of 4 or more covering over a quarter of it.
MIN_RUN = 4
MAX_RUN = 8
MAX_RUN_SHARE = 0.25
KEYBOARD_ROWS = ("1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm")
# Share of the key that may be dictionary words (4 letters or more, after undoing l33t spelling).
MAX_WORD_SHARE = 0.3
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
    runs = sequences(key)
    if runs and (max(map(len, runs)) >= MAX_RUN or sum(map(len, runs)) > MAX_RUN_SHARE * len(key)):
        return f"is made of sequences ({', '.join(runs)})"
    words = guessable_words(key)
    if sum(map(len, words)) > MAX_WORD_SHARE * len(key):
        return f"is made of words ({', '.join(words)})"
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


def sequences(key: str) -> list[str]:
    """The runs of MIN_RUN characters or more that follow each other: in code points, up or down
    (`abcd`, `9876`, `ZYX`), or along a keyboard row (`qwer`, `lkjh`), compared without case."""
    lowered = key.lower()
    runs: list[str] = []
    start = 0
    for end in range(1, len(key) + 1):
        if end < len(key) and _follows(lowered, start, end):
            continue
        if end - start >= MIN_RUN:
            runs.append(key[start:end])
        start = end
    return runs


def _follows(lowered: str, start: int, end: int) -> bool:
    """Whether lowered[start:end + 1] still runs in one direction, by code point or along a keyboard row."""
    run = lowered[start : end + 1]
    steps = {ord(b) - ord(a) for a, b in zip(run, run[1:], strict=False)}
    if steps in ({1}, {-1}):
        return True
    return any(run in row or run in row[::-1] for row in KEYBOARD_ROWS)


# Words found in keys typed by hand: the framework's and the project's own, deployment words, and
# the commonest password words. Matched from 4 letters up, so `test` counts but `key` does not.
_COMMON_WORDS = frozenset("""
flask keel template project production prod staging stage develop development deploy release version
application server service session cookie secret secrets password passwd passphrase token signing sign
secure security private public company school course student teacher admin administrator root user users
account login logon default change changeme example sample test testing local localhost cloud docker
kubernetes cluster config setting settings random string strong super long very really this that with
from your mine keys value values generate generated create created insecure unsafe please replace
django python rails node website site domain master main backup access open sesame letmein welcome
hello world qwerty dragon monkey shadow sunshine football baseball princess iloveyou trustno superman
batman love life summer winter spring autumn fall january february march april june july august
september october november december monday tuesday wednesday thursday friday saturday sunday year
month today good best first last great nice happy horse battery staple correct apple banana orange
water fire earth light dark black white blue green purple yellow silver golden gold red team office
internal external global night morning evening
""".split())
_LEET = str.maketrans("0134578@$!", "oieastbasi")


def guessable_words(key: str) -> list[str]:
    """The common words the key is made of, longest first at each position (l33t spelling undone)."""
    text = key.lower().translate(_LEET)
    found: list[str] = []
    position = 0
    while position < len(text):
        word = next((text[position:end] for end in range(len(text), position + 3, -1)
                     if text[position:end] in _COMMON_WORDS), None)
        if word:
            found.append(word)
            position += len(word)
        else:
            position += 1
    return found


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
    if not flask.get("TRUSTED_HOSTS") and not settings.server.PUBLIC_URL:
        findings.append(Finding("FLASK.CONFIG.TRUSTED_HOSTS", "is not set, and neither is SERVER_ENV.PUBLIC_URL: "
                                                              "set the host names users reach the app at, so no "
                                                              "answer is built from a request's Host header"))
    for name, entry in settings.databases.items():
        for field in ("user", "password"):
            if is_masked(getattr(entry, field)):
                findings.append(Finding(f"DATABASE.{name}.{field}", "is a masked example value "
                                                                    f"({getattr(entry, field)})"))
    return findings + _redis_findings(settings.redis) + _mail_findings(settings.mail)


def _mail_findings(mail) -> list[Finding]:
    # Mail carries password-reset links: in clear text, anyone on the path could use them.
    if mail.HOST and mail.SECURITY == "none" and mail.HOST not in ("localhost", "127.0.0.1", "::1"):
        return [Finding("SERVICES.mail.SECURITY", f"is none; mail to {mail.HOST} (password-reset links) would "
                                                  "cross the network unencrypted: use starttls or tls")]
    return []
