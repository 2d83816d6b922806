"""Hiding secrets in a config before it is shown or logged.

Two nets, because a secret can sit under any key name:

- by key: a value under a name such as APP_KEY, DB_PASSWORD, SENTRY_DSN or
  Authorization is hidden whole, and so is everything beneath it;
- by value: every other string is searched for the shapes secrets take (a
  password or token in a URL, a webhook token in a URL path, a secret query
  parameter, an Authorization header value, a JWT, a PEM private key, a
  well-known API token), and only the secret part is hidden, so hosts, ports,
  paths and the other parameters stay readable.

A random string under a harmless name (`FOO: 8f3kQ...`) has no shape to find:
it cannot be told from an identifier, so name secrets as secrets.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

REDACTED = "********"

# --- by key -------------------------------------------------------------------------------------

# Anywhere in a name: no harmless setting contains these (APP_KEY, DB_PASSWORD, SENTRY_DSN,
# SLACK_WEBHOOK_URL, JWT_PRIVATE_KEY, SECURITY_PASSWORD_SALT, SSL_PASSPHRASE, TLS_CERT_KEY).
_SECRET_NAME = re.compile(r"KEY|PASS|PWD|SECRET|TOKEN|CREDENTIAL|DSN|WEBHOOK|PRIVATE|SIGNATURE|SALT",
                          re.IGNORECASE)
# Only as the name's last word: `Authorization`, `BASIC_AUTH`, `Cookie` hold a credential, while
# SESSION_COOKIE_HTTPONLY, REMEMBER_COOKIE_NAME or AUTH_TYPE only describe one.
_SECRET_LAST_WORD = re.compile(r"(?:^|[^A-Za-z]|(?<=[a-z])(?=[A-Z]))(?i:auth|authorization|cookies?)$")
# Names that describe a secret rather than hold it: CACHE_KEY_PREFIX, SSL_KEY_FILE, TOKEN_TTL,
# PASSWORD_MIN_LENGTH. Hiding them makes the output less useful and protects nothing.
_DESCRIBING_WORDS = r"PREFIX|FILE|PATH|DIR|NAME|TYPE|ALGORITHMS?|LENGTH|TTL|LIFETIME|EXPIRES|TIMEOUT|ROUNDS|ITERATIONS"
# ... written with a separator (SSL_KEY_FILE) or in camel case (SharedAccessKeyName).
_DESCRIBES_SECRET = re.compile(rf"(?:[_-](?i:{_DESCRIBING_WORDS})|(?<=[a-z])(?:{_DESCRIBING_WORDS.title()}))$")


# Short forms, as a whole word of the name only (MAIL_PW, API_CREDS, client_sec, DB_PASSWD, SMTP_PASS;
# not PWM_LEVEL, INCREDIBLE or SECTION), and licence keys, which are API keys by another name.
_SECRET_WORDS = frozenset({"pw", "pwd", "passwd", "pass", "cred", "creds", "sec", "secrets", "apikey", "bearer",
                           "jwt", "hmac", "sig", "otp", "license", "licence"})
_NAME_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


def _name_words(key: str) -> list[str]:
    """`MAIL_PW` -> [mail, pw]; `clientSec` -> [client, sec]; `X-Api-Creds` -> [x, api, creds]."""
    return [word.lower() for word in _NAME_WORDS.findall(key)]


# `sec` is also seconds: READ_TIMEOUT_SEC, RETRY_DELAY_SEC hold no secret.
_TIME_WORDS = frozenset({"timeout", "ttl", "interval", "delay", "period", "duration", "age", "wait", "retry",
                         "every", "after", "lifetime", "expires", "expiry"})


def is_secret_key(key: str) -> bool:
    words = _name_words(key)
    short_form = any(word in _SECRET_WORDS for word in words) and not (
        "sec" in words and _TIME_WORDS.intersection(words))
    named = bool(_SECRET_NAME.search(key) or _SECRET_LAST_WORD.search(key) or short_form)
    return named and not _DESCRIBES_SECRET.search(key)


def _can_hold_secret(value: Any) -> bool:
    # Booleans stay: one bit is no secret, and `PRIVATE: true` is worth seeing. Numbers are hidden:
    # FLASK.CONFIG gives `MAIL_PASSWORD: ${PW}` the YAML type of PW, so a digits-only password is an int.
    return value not in (None, "") and not isinstance(value, bool)


# --- by value: URLs -----------------------------------------------------------------------------

_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>]+")
# `scheme://user:password@host` or `scheme://user@host`. The password may hold `/` and `@`
# (SQLAlchemy reads them so); it ends at the first `@` after which comes a host (no `@`) and then
# the path, query, fragment or the end. `host:8080/path?mail=a@b.c` has no password: a port is
# digits followed by the path, not a password.
_USERINFO = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^:/?#@\[\]]*)"
                       r"(?::(?!\d*(?:[/?#]|$))(?P<password>.*?))?@(?=[^@/?#]*(?:[/?#]|$))")
# A user name kept as is (`postgresql://app@db`, `ssh://git@github.com`). Anything else in the user
# part is taken for a credential: Sentry DSNs and token URLs carry their key there.
_PLAIN_USER = re.compile(r"[a-z][a-z._-]{0,31}")
_URL_PARTS = re.compile(r"^(?P<head>[^:]+://[^/?#]*)(?P<path>[^?#]*)(?P<query>\?[^#]*)?(?P<fragment>#.*)?$",
                        re.DOTALL)
# A path segment that names an endpoint (`api`, `webhooks`, `services`); the first other one in a
# webhook URL starts its token (`/services/T000/B000/XXXX`, `/api/webhooks/123/abc`).
_PLAIN_SEGMENT = re.compile(r"[a-z][a-z_-]*")
# Telegram's bot token is a path segment of an ordinary API URL.
_TELEGRAM_BOT = re.compile(r"/bot\d+:[A-Za-z0-9_-]+")
# Query parameter names that hold secrets: these anywhere in the name ...
_SECRET_PARAM_PART = re.compile(r"token|secret|passw|apikey|signature|credential", re.IGNORECASE)
# ... and these as a whole word of it (`key`, `api_key`, `AWSAccessKeyId`; not `keyword`, `monkey`).
_SECRET_PARAM_WORDS = frozenset({"key", "pass", "pwd", "auth", "sig", "code", "jwt", "hmac", "session",
                                 "sessionid", "otp"})
_CAMEL_CASE = re.compile(r"([a-z0-9])([A-Z])")


def _is_secret_param(name: str) -> bool:
    name = unquote(name)
    words = re.split(r"[^a-z0-9]+", _CAMEL_CASE.sub(r"\1_\2", name).lower())
    return bool(_SECRET_PARAM_PART.search(name)) or any(word in _SECRET_PARAM_WORDS for word in words)


def _hide_params(text: str) -> str:
    """`token=abc&x=1` -> `token=********&x=1`: secret values go, every name and other value stays."""
    pairs = []
    for pair in text.split("&"):
        name, equals, value = pair.partition("=")
        pairs.append(f"{name}={REDACTED}" if equals and value and _is_secret_param(name) else pair)
    return "&".join(pairs)


def _hide_userinfo(url: str) -> str:
    match = _USERINFO.match(url)
    if match is None:
        return url
    user, password = match.group("user"), match.group("password")
    shown_user = user if user == "" or _PLAIN_USER.fullmatch(user) else REDACTED
    shown = shown_user if password is None else f"{shown_user}:{REDACTED if password else ''}"
    return f"{match.group('scheme')}{shown}@{url[match.end():]}"


def _hide_webhook_path(path: str) -> str:
    """`/api/webhooks/123/abc` -> `/api/webhooks/********`: the token is everything after the endpoint."""
    segments = path.split("/")
    for index, segment in enumerate(segments):
        if segment and not _PLAIN_SEGMENT.fullmatch(segment):
            return "/".join([*segments[:index], REDACTED])
    return path


def _hide_url(url: str) -> str:
    parts = _URL_PARTS.match(_hide_userinfo(url))
    if parts is None:
        return url
    head, path = parts.group("head"), parts.group("path")
    if "hook" in (head + path).lower():
        path = _hide_webhook_path(path)
    path = _TELEGRAM_BOT.sub(f"/bot{REDACTED}", path)
    query = parts.group("query") or ""
    fragment = parts.group("fragment") or ""
    # An OAuth redirect carries its token in the fragment, written like a query.
    return head + path + ("?" + _hide_params(query[1:]) if query else "") + (
        "#" + _hide_params(fragment[1:]) if "=" in fragment else fragment)


def redact_url(value: str) -> str:
    """Hide the credentials, webhook tokens and secret parameters of every URL in `value`.

    `postgresql://app:pw@db/shop` -> `postgresql://app:********@db/shop`; the rest is unchanged.
    """
    return _URL.sub(lambda match: _hide_url(match.group(0)), value)


# --- by value: other shapes ---------------------------------------------------------------------

# The whole block, armour lines included; an unterminated one (a value cut short) up to the end.
_PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY[A-Z0-9 ]*-----.*?"
                          r"(?:-----END [A-Z0-9 ]*PRIVATE KEY[A-Z0-9 ]*-----|\Z)", re.DOTALL)
# `Authorization` header values. The scheme stays; so does a following ordinary word, so prose
# such as "send a Bearer token" stays readable (a credential has digits, symbols or inner capitals).
_AUTH_VALUE = re.compile(r"\b(?P<scheme>(?i:bearer|basic|token|bot|apikey|api-key|jwt|negotiate|ntlm))"
                         r"(?P<space>\s+)(?P<credential>[A-Za-z0-9._~+/-]+=*)")
_ORDINARY_WORD = re.compile(r"[A-Za-z][a-z]*")
_MIN_CREDENTIAL = 6
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
# Tokens whose format announces them, wherever they appear.
_KNOWN_TOKEN = re.compile(
    r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}"  # GitHub
    r"|github_pat_[A-Za-z0-9_]{22,}"
    r"|glpat-[A-Za-z0-9_-]{20,}"  # GitLab
    r"|xox[abeoprs]-[A-Za-z0-9-]{10,}"  # Slack
    r"|[rs]k_(?:live|test)_[A-Za-z0-9]{16,}"  # Stripe
    r"|AIza[A-Za-z0-9_-]{35}"  # Google API key
    r"|SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}"  # SendGrid
    r"|(?:AKIA|ASIA)[A-Z0-9]{16}"  # AWS access key id (long-lived, temporary)
    r"|sk-(?:proj-|ant-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}"  # OpenAI, Anthropic
    r"|npm_[A-Za-z0-9]{36,}"  # npm
    r"|pypi-[A-Za-z0-9_-]{50,}"  # PyPI
    r"|hf_[A-Za-z0-9]{30,}"  # Hugging Face
    r"|whsec_[A-Za-z0-9+/=]{20,}"  # Stripe webhook signing secret
    r"|(?:dop|doo|dor)_v1_[a-f0-9]{64}"  # DigitalOcean
    r"|shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}"  # Shopify
    r"|dckr_pat_[A-Za-z0-9_-]{20,}"  # Docker Hub
    r"|glrt-[A-Za-z0-9_-]{20,}|gldt-[A-Za-z0-9_-]{20,}"  # GitLab runner, deploy
    r"|sntry[su]_[A-Za-z0-9+/=_-]{20,}"  # Sentry auth token
    r"|lin_api_[A-Za-z0-9]{30,}"  # Linear
    r"|ya29\.[A-Za-z0-9_-]{20,}"  # Google OAuth access token
    r"|key-[a-f0-9]{32}"  # Mailgun
    r"|SK[a-f0-9]{32}"  # Twilio API key
    r"|ATATT[A-Za-z0-9_=-]{20,}"  # Atlassian
    r"|xapp-[A-Za-z0-9-]{10,})")  # Slack app-level token
# A UUID is how many services write an API key (Heroku, New Relic, Azure). Hidden unless the name
# says it is an identifier (TENANT_ID, REQUEST_UUID), which is no secret.
_UUID = re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")
_IDENTIFIER_NAME = re.compile(r"(?:^|[^A-Za-z]|(?<=[a-z])(?=[A-Z]))(?i:id|ids|uuid|guid)$")
# `name=value` pairs outside URLs: libpq (`host=db password=pw`), ODBC and ADO.NET
# (`Server=db;Pwd={p;w}`), Azure (`AccountKey=...`), env files (`export API_TOKEN=...`); and
# `"name": "value"` in JSON held in a string. The value goes when the name is a secret's.
_ASSIGNMENT = re.compile(r"(?P<name>(?<![A-Za-z0-9_.-])[A-Za-z][A-Za-z0-9_.-]*)(?P<equals>\s*=\s*)"
                         r"(?P<value>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|\{(?:[^}]|\}\})*\}|[^\s;&,]+)")
_JSON_MEMBER = re.compile(r"(?P<name>\"[A-Za-z][A-Za-z0-9_.-]*\")(?P<equals>\s*:\s*)"
                          r"(?P<value>\"(?:[^\"\\]|\\.)*\"|[0-9][^,}\s]*)")


def _hide_auth_value(match: re.Match[str]) -> str:
    credential = match.group("credential")
    if len(credential) < _MIN_CREDENTIAL or _ORDINARY_WORD.fullmatch(credential):
        return match.group(0)
    return f"{match.group('scheme')}{match.group('space')}{REDACTED}"


def _is_secret_assignment(name: str) -> bool:
    """A name in `name=value` text: by its words, as a URL parameter's (`monkey=1` is no key)."""
    named = _is_secret_param(name) or any(word in _SECRET_WORDS for word in _name_words(name))
    return named and not _DESCRIBES_SECRET.search(name)


def _hide_assigned(match: re.Match[str]) -> str:
    name, value = match.group("name").strip('"'), match.group("value")
    if not _is_secret_assignment(name) or value in (REDACTED, f'"{REDACTED}"') or not value.strip("'\"{}"):
        return match.group(0)
    quote = value[0] if value[0] in "'\"" else ""
    return f"{match.group('name')}{match.group('equals')}{quote}{REDACTED}{quote}"


def redact_text(value: str, key: str = "") -> str:
    """Hide every secret found in one string, keeping the rest as written.

    `key`, the name the string sits under, decides only whether a UUID in it is an identifier.
    """
    value = _PRIVATE_KEY.sub(REDACTED, value)
    value = redact_url(value)
    value = _ASSIGNMENT.sub(_hide_assigned, value)
    value = _JSON_MEMBER.sub(_hide_assigned, value)
    value = _AUTH_VALUE.sub(_hide_auth_value, value)
    value = _JWT.sub(REDACTED, value)
    value = _KNOWN_TOKEN.sub(REDACTED, value)
    return value if _IDENTIFIER_NAME.search(key) else _UUID.sub(REDACTED, value)


# --- the tree -----------------------------------------------------------------------------------


def redact(tree: Any, key: str = "") -> Any:
    """A copy of `tree` with its secrets hidden; `key` is the name `tree` sits under, if any."""
    return _redact(tree, secret=bool(key) and is_secret_key(key), key=key)


def _redact(tree: Any, secret: bool, key: str) -> Any:
    if isinstance(tree, dict):
        # Beneath a secret name everything is secret: `TOKENS: {github: ...}` names no child as one.
        return {name: _redact(value, secret or is_secret_key(str(name)), str(name)) for name, value in tree.items()}
    if isinstance(tree, list):
        return [_redact(value, secret, key) for value in tree]
    if secret and _can_hold_secret(tree):
        return REDACTED
    if isinstance(tree, str):
        return redact_text(tree, key)
    return tree
