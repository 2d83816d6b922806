"""Deployment checks for `flask config check`, in the spirit of Django's `check --deploy`.

In PROD each finding is an error; elsewhere the same findings are warnings, so a
development config can be checked without noise turning into failures.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.config.files import is_masked
from app.config.loader import Settings

MIN_KEY_LENGTH = 32
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
        return [Finding("SERVER_ENV.APP_KEY", "is a placeholder value; generate one with "
                                              "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`")]
    if len(key) < MIN_KEY_LENGTH:
        return [Finding("SERVER_ENV.APP_KEY", f"is {len(key)} characters long; use at least {MIN_KEY_LENGTH}")]
    return []


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
    return findings
