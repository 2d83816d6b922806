"""What `config show` hides and what `config check` refuses, case by case.

Redaction: each row is a value under a key of FLASK.CONFIG and what `show` must
print for it. Secrets are found by the key's name and by the value's shape, so
most rows put the secret under a harmless name. What is not secret (scheme,
host, port, path, other query parameters) stays as written.

Decisions the rows pin down:
- booleans under a secret-looking name are shown (one bit is no secret), numbers
  are hidden (a digits-only password read from `${PW}` is an int), None and ""
  are shown as they are;
- an auth scheme word followed by an ordinary word ("send a Bearer token") is
  prose and stays; followed by a credential-looking string it is hidden;
- a user name in a URL stays when it reads as one (`ssh://git@...`), anything
  else there is taken for a key (Sentry DSNs carry theirs there).
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from dataclasses import dataclass, replace
from typing import Any

import msgspec
import pytest
import yaml

from flask_keel.config import load_settings
from flask_keel.config.checks import deploy_findings
from flask_keel.config.redact import REDACTED, redact
from tests.conftest import REPO_ROOT

R = REDACTED
SENTRY_DSN = "https://0123456789abcdef0123456789abcdef@o123.ingest.sentry.io/42"
JWT = ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
       "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U")
PEM = ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n"
       "BKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n-----END PRIVATE KEY-----")
RSA_PEM_ONE_LINE = r"-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcN\n-----END RSA PRIVATE KEY-----"


@dataclass(frozen=True)
class Shown:
    id: str
    value: Any
    expected: Any
    key: str = "EXTRA"


def same(id: str, value: Any, key: str = "EXTRA") -> Shown:
    """A value that is no secret: shown exactly as written."""
    return Shown(id, value, value, key)


SHOWN = [
    # Sentry DSN: the key is the URL's user part, with no password.
    Shown("sentry dsn, harmless key", SENTRY_DSN, f"https://{R}@o123.ingest.sentry.io/42"),
    Shown("sentry dsn, by key", SENTRY_DSN, R, key="SENTRY_DSN"),
    # Authorization header values under harmless keys.
    Shown("bearer jwt", f"Bearer {JWT}", f"Bearer {R}"),
    Shown("basic", "Basic dXNlcjpwYXNz", f"Basic {R}"),
    Shown("token scheme", "Token abc123def456ghi789", f"Token {R}"),
    Shown("bearer in a header map", {"X-Upstream": f"Bearer {JWT}", "Accept": "application/json"},
          {"X-Upstream": f"Bearer {R}", "Accept": "application/json"}, key="HEADERS"),
    Shown("Authorization header by key", {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": R},
          key="HEADERS"),
    Shown("header line in a longer string", "Authorization: Bearer abc.DEF-123_456 (rotated)",
          f"Authorization: Bearer {R} (rotated)"),
    Shown("bare jwt", JWT, R),
    # Passwords in URLs: only the password goes.
    Shown("postgresql url", "postgresql://user:pass@db/app", f"postgresql://user:{R}@db/app"),
    Shown("url in a list", ["postgresql://user:pass@db/app", "sqlite:///local.db"],
          [f"postgresql://user:{R}@db/app", "sqlite:///local.db"]),
    Shown("url inside a longer string", "primary postgresql://user:pass@db/app, then the replica",
          f"primary postgresql://user:{R}@db/app, then the replica"),
    Shown("password with / and +", "mysql+pymysql://app:ab/cd+ef==@db:3306/shop",
          f"mysql+pymysql://app:{R}@db:3306/shop"),
    Shown("password with @", "redis://:p@ss@cache:6379/0", f"redis://:{R}@cache:6379/0"),
    Shown("token as user name", "https://ghp_abc123DEF456:x-oauth-basic@github.com/org/repo.git",
          f"https://{R}:{R}@github.com/org/repo.git"),
    Shown("password, @ later in the path", "https://user:pw@example.com/users/@alice",
          f"https://user:{R}@example.com/users/@alice"),
    # Webhook URLs: the token in the path goes, the endpoint stays.
    Shown("slack webhook", "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
          f"https://hooks.slack.com/services/{R}"),
    Shown("discord webhook", "https://discord.com/api/webhooks/123456789/abcDEFghiJKL_mnoPQR-stu",
          f"https://discord.com/api/webhooks/{R}"),
    Shown("webhook by key", "https://hooks.slack.com/services/T0/B0/X", R, key="SLACK_WEBHOOK_URL"),
    Shown("telegram bot token in the path", "https://api.telegram.org/bot123456:AAHdqTcvCH1vGWJxfSeofSAs/getMe",
          f"https://api.telegram.org/bot{R}/getMe"),
    # Query parameters: secret values go, names and other values stay.
    Shown("token in the query", "https://example.com/hook?token=abc&x=1", f"https://example.com/hook?token={R}&x=1"),
    Shown("every secret parameter name",
          "https://api.example.com/v1/send?api_key=1&apikey=2&client_secret=3&access_token=4&sig=5&signature=6"
          "&code=7&password=8&pass=9&auth=10&key=11&refresh_token=12&page=2&sort=name",
          f"https://api.example.com/v1/send?api_key={R}&apikey={R}&client_secret={R}&access_token={R}&sig={R}"
          f"&signature={R}&code={R}&password={R}&pass={R}&auth={R}&key={R}&refresh_token={R}&page=2&sort=name"),
    Shown("presigned S3 url", "https://bucket.s3.amazonaws.com/f.pdf?X-Amz-Credential=AKIA%2F1&X-Amz-Expires=300"
          "&X-Amz-Signature=ab12&AWSAccessKeyId=AKIA1",
          f"https://bucket.s3.amazonaws.com/f.pdf?X-Amz-Credential={R}&X-Amz-Expires=300&X-Amz-Signature={R}"
          f"&AWSAccessKeyId={R}"),
    Shown("token in the fragment", "https://app.example.com/cb#access_token=abc&state=xyz",
          f"https://app.example.com/cb#access_token={R}&state=xyz"),
    # PEM private keys: the whole block.
    Shown("pem private key", PEM, R),
    Shown("pem inside a longer string", f"key={RSA_PEM_ONE_LINE} (rotated yearly)", f"key={R} (rotated yearly)"),
    Shown("pem cut short", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA", R),
    # Tokens whose format names them.
    Shown("github token", "ghp_" + "a1B2" * 9, R),
    Shown("aws access key id", "AKIAIOSFODNN7EXAMPLE", R),
    Shown("slack bot token", "xoxb-123456789-abcdefghij", R),
    # Secret key names, including the new ones.
    Shown("dsn", "anything", R, key="DATABASE_DSN"),
    Shown("private", "anything", R, key="JWT_PRIVATE"),
    Shown("signature", "anything", R, key="SIGNATURE"),
    Shown("salt", "anything", R, key="SECURITY_HASH_SALT"),
    Shown("passphrase", "anything", R, key="SSL_PASSPHRASE"),
    Shown("cert key", "anything", R, key="TLS_CERT_KEY"),
    Shown("auth as last word", "user:anything", R, key="BASIC_AUTH"),
    Shown("cookie as last word", "sid=anything", R, key="UPSTREAM_COOKIE"),
    Shown("number under a secret name", 12345678, R, key="MAIL_PASSWORD"),
    Shown("list under a secret name", ["old-one", "old-two"], [R, R], key="SECRET_KEY_FALLBACKS"),
    Shown("mapping under a secret name", {"github": "gh-value", "enabled": True}, {"github": R, "enabled": True},
          key="TOKENS"),
    # Not secrets.
    same("boolean under a secret name", True, key="PRIVATE"),
    same("None under a secret name", None, key="API_TOKEN"),
    same("empty under a secret name", "", key="API_TOKEN"),
    same("SESSION_COOKIE_HTTPONLY", True, key="SESSION_COOKIE_HTTPONLY"),
    same("SESSION_COOKIE_NAME", "session", key="SESSION_COOKIE_NAME"),
    same("SESSION_COOKIE_SAMESITE", "Lax", key="SESSION_COOKIE_SAMESITE"),
    same("MAX_COOKIE_SIZE", 4093, key="MAX_COOKIE_SIZE"),
    same("AUTH_TYPE", "oauth", key="AUTH_TYPE"),
    same("AUTHOR", "Jane", key="AUTHOR"),
    same("key prefix", "shop:", key="CACHE_KEY_PREFIX"),
    same("key file path", "/etc/ssl/private/app.key", key="SSL_KEY_FILE"),
    same("token lifetime", 3600, key="JWT_ACCESS_TOKEN_EXPIRES"),
    same("localhost", "http://localhost:4200"),
    same("port and an @ in the query", "http://localhost:4200/api?email=ops@example.com"),
    same("url without credentials", "https://example.com/docs?page=2&sort=name"),
    same("redis without password", "redis://cache:6379/0"),
    same("database without credentials", "postgresql://db/app"),
    same("plain user name", "ssh://git@github.com/org/repo.git"),
    same("parameter names that only contain key", "https://example.com/search?q=keyword&monkey=1"),
    same("page about webhooks", "https://example.com/docs/webhooks-guide"),
    same("email address", "mailto:ops@example.com"),
    same("bearer in a sentence", "Send a Bearer token in the Authorization header"),
    same("bearer alone", "Bearer"),
    same("path", "instance/app.sqlite3"),
    # A UUID is how several services write their API keys: hidden unless the name says identifier.
    Shown("uuid under a plain name", "123e4567-e89b-12d3-a456-426614174000", R),
    same("uuid under an identifier's name", "123e4567-e89b-12d3-a456-426614174000", key="TENANT_ID"),
    same("public key", "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----"),
]


@pytest.mark.parametrize("case", SHOWN, ids=[case.id for case in SHOWN])
def test_show_hides_the_secret_and_keeps_the_rest(case: Shown):
    tree = {"FLASK": {"CONFIG": {case.key: case.value}}}
    assert redact(tree) == {"FLASK": {"CONFIG": {case.key: case.expected}}}


def test_the_redaction_table_covers_enough_cases():
    assert len(SHOWN) >= 60


SHOW_ENV = {
    "SENTRY": SENTRY_DSN,
    "BEARER": f"Bearer {JWT}",
    "BASIC": "Basic dXNlcjpwYXNz",
    "TOKEN": "Token abc123def456ghi789",
    "PRIMARY_URL": "postgresql://shop:Pg-s3cret-pw@db/app",
    "REPLICA_URL": "postgresql://reader:R3plica-pw@replica:5432/app",
    "SLACK": "https://hooks.slack.com/services/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",
    "DISCORD": "https://discord.com/api/webhooks/123456789012345678/Ab-Cd_Ef1Gh2Ij3Kl4Mn5Op6Qr7St8Uv9Wx0Yz",
    "HOOK": "https://example.com/hook?token=hk-t0ken-value&x=1",
    "PEM": PEM,
    "APP_KEY": secrets.token_urlsafe(48),
    "NUMERIC_PASSWORD": "73196482",
}
SECRET_PARTS = [
    "0123456789abcdef0123456789abcdef", "eyJhbGciOiJIUzI1NiJ9", "dozjgNryP4J3", "dXNlcjpwYXNz", "abc123def456ghi789",
    "Pg-s3cret-pw", "R3plica-pw", "T0A1B2C3D", "Zq8X1c2V3b4N5m6L7k8J9h0G", "Ab-Cd_Ef1Gh2", "hk-t0ken-value",
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", "BKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj", SHOW_ENV["APP_KEY"], "73196482",
]


def python_m_app(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run `python -m app ARGS` from the checkout, with a clean environment plus `env`."""
    environ = {key: value for key, value in os.environ.items()
               if not key.startswith(("APP_", "DB_", "REDIS_", "SESSION_", "LOG_", "MEMCACHED_"))}
    environ.update(env)
    return subprocess.run([sys.executable, "-m", "app", *args], capture_output=True, text=True, env=environ,
                          cwd=REPO_ROOT, timeout=60)


def strings(tree: Any) -> list[str]:
    if isinstance(tree, dict):
        return [text for key, value in tree.items() for text in [str(key), *strings(value)]]
    if isinstance(tree, list):
        return [text for value in tree for text in strings(value)]
    return [str(tree)]


def test_config_show_prints_none_of_the_secrets(write_config):
    source = write_config("""
        SERVER_ENV: {APP_KEY: '${APP_KEY}'}
        FLASK:
            CONFIG:
                SENTRY_DSN: '${SENTRY}'
                ERRORS_TO: '${SENTRY}'
                EXTRA: '${BEARER}'
                HEADERS: {Authorization: '${BASIC}', X-Upstream: '${TOKEN}'}
                REPLICAS: ['${REPLICA_URL}', 'sqlite:///local.db']
                NOTE: 'primary ${PRIMARY_URL} then the replicas'
                MAIL_PASSWORD: '${NUMERIC_PASSWORD}'
                SESSION_COOKIE_HTTPONLY: true
        SERVICES:
            alerts: {SLACK: '${SLACK}', DISCORD: '${DISCORD}', HOOK: '${HOOK}'}
            tls: {PEM: '${PEM}'}
        """)
    result = python_m_app("config", "show", "--config", str(source), env=SHOW_ENV)
    assert result.returncode == 0, result.stderr
    shown = yaml.safe_load(result.stdout)
    # YAML may fold a long string over lines: look in the parsed strings as well as the raw text.
    for secret in SECRET_PARTS:
        assert secret not in result.stdout
        assert not any(secret in text for text in strings(shown)), secret
    config, alerts = shown["FLASK"]["CONFIG"], shown["SERVICES"]["alerts"]
    assert config["ERRORS_TO"] == f"https://{R}@o123.ingest.sentry.io/42"
    assert config["REPLICAS"] == [f"postgresql://reader:{R}@replica:5432/app", "sqlite:///local.db"]
    assert config["NOTE"] == f"primary postgresql://shop:{R}@db/app then the replicas"
    assert config["SESSION_COOKIE_HTTPONLY"] is True
    assert alerts == {"SLACK": f"https://hooks.slack.com/services/{R}",
                      "DISCORD": f"https://discord.com/api/webhooks/{R}",
                      "HOOK": f"https://example.com/hook?token={R}&x=1"}
    assert shown["SERVICES"]["tls"]["PEM"] == R


# --- `config check`: weak APP_KEYs and a Redis without a password --------------------------------

GOOD_KEY = "Zr8v3tW1qN5yB0kH7mL2pX9cF4dJ6sA_eUh2Gx5Rb7Yn"
GENERATE = "generate one with `python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
NO_REDIS_PASSWORD = "Redis must require a password in production"


@dataclass(frozen=True)
class Checked:
    id: str
    key: str
    redis: dict[str, Any] | None = None
    # every finding line, in order; [] for a sound config
    expected: list[str] | None = None


CHECKED = [
    Checked("one character repeated", "a" * 44, expected=[f"SERVER_ENV.APP_KEY: repeats a shorter string; {GENERATE}"]),
    Checked("a word repeated", "password" * 6, expected=[f"SERVER_ENV.APP_KEY: repeats a shorter string; {GENERATE}"]),
    Checked("a random-looking chunk repeated", "k3Y-9xQ" * 7,
            expected=[f"SERVER_ENV.APP_KEY: repeats a shorter string; {GENERATE}"]),
    Checked("few distinct characters", "aaaabbbbccccddddeeeeffffgggghhhhaaaabbbbcccc",
            expected=[f"SERVER_ENV.APP_KEY: has only 8 distinct characters (at least 10 needed); {GENERATE}"]),
    Checked("almost a repetition, few distinct", "aebfcgdhi" * 5 + "aeb",
            expected=[f"SERVER_ENV.APP_KEY: has only 9 distinct characters (at least 10 needed); {GENERATE}"]),
    Checked("digits only, short", "3141592653589793238462643383279502884",
            expected=["SERVER_ENV.APP_KEY: is 37 characters long; use at least 43"]),
    # Guessable keys that passed before (issue 28): sequences, keyboard rows, words.
    Checked("alphabet and digits", "abcdefghijklmnopqrstuvwxyz0123456789",
            expected=["SERVER_ENV.APP_KEY: is 36 characters long; use at least 43"]),
    Checked("words and a year", "FlaskTemplateProductionKey2026!!",
            expected=["SERVER_ENV.APP_KEY: is 32 characters long; use at least 43"]),
    Checked("alphabet, digits and capitals", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
            expected=["SERVER_ENV.APP_KEY: is made of sequences (abcdefghijklmnopqrstuvwxyz, 0123456789, ABCDEFG); "
                      f"{GENERATE}"]),
    Checked("keyboard rows", "qwertyuiopasdfghjkl1234567890zxcvbnmQWERTYUI",
            expected=["SERVER_ENV.APP_KEY: is made of sequences (qwertyuiop, asdfghjkl, 1234567890, zxcvbnm, "
                      f"QWERTYUI); {GENERATE}"]),
    Checked("short sequences spread over the key", "x9Kd!abcd-Zq81wErtY_p0o9IUYT-mN3bV7c1234LaB0",
            expected=[f"SERVER_ENV.APP_KEY: is made of sequences (abcd, wErtY, IUYT, 1234); {GENERATE}"]),
    Checked("words", "FlaskTemplateProductionKey2026!!-SecureSchoolServer",
            expected=["SERVER_ENV.APP_KEY: is made of words (flask, template, production, secure, school, server); "
                      f"{GENERATE}"]),
    Checked("words in l33t", "Tr0ub4dor&3CorrectHorseBatteryStaple2026xx!",
            expected=[f"SERVER_ENV.APP_KEY: is made of words (correct, horse, battery, staple); {GENERATE}"]),
    Checked("password words in l33t", "P@55w0rd-L3tM31n-W3lc0m3-Adm1n-Summ3r-2026-9x",
            expected=["SERVER_ENV.APP_KEY: is made of words (password, letmein, welcome, admin, summer); "
                      f"{GENERATE}"]),
    Checked("redis host without password", GOOD_KEY, {"HOST": "cache"},
            expected=[f"SERVICES.redis.PASSWORD: is not set; {NO_REDIS_PASSWORD}"]),
    Checked("redis url without password", GOOD_KEY, {"URL": "redis://cache:6379/0"},
            expected=["SERVICES.redis.PASSWORD: SERVICES.redis.URL has no password (PASSWORD is not used with URL); "
                      f"{NO_REDIS_PASSWORD}"]),
    Checked("redis url without password, PASSWORD ignored", GOOD_KEY,
            {"URL": "redis://cache:6379/0", "PASSWORD": "unused-by-redis-py"},
            expected=["SERVICES.redis.PASSWORD: SERVICES.redis.URL has no password (PASSWORD is not used with URL); "
                      f"{NO_REDIS_PASSWORD}"]),
    Checked("weak key and passwordless redis", "a" * 44, {"HOST": "cache"},
            expected=[f"SERVER_ENV.APP_KEY: repeats a shorter string; {GENERATE}",
                      f"SERVICES.redis.PASSWORD: is not set; {NO_REDIS_PASSWORD}"]),
    Checked("sound key", GOOD_KEY, expected=[]),
    Checked("digits only but long enough", "3141592653589793238462643383279502884197169", expected=[]),
    Checked("hex key of 128 bits: shorter than a generated one", "9f86d081884c7d659a2feaa0c55ad015",
            expected=["SERVER_ENV.APP_KEY: is 32 characters long; use at least 43"]),
    Checked("hex key of 256 bits", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", expected=[]),
    Checked("redis with PASSWORD", GOOD_KEY, {"HOST": "cache", "PASSWORD": "r3dis-pw"}, expected=[]),
    Checked("redis url with password", GOOD_KEY, {"URL": "rediss://:r3dis-pw@cache:6380/0"}, expected=[]),
    Checked("redis url with user and password", GOOD_KEY, {"URL": "redis://app:r3dis-pw@cache/0"}, expected=[]),
    Checked("redis url with password in the query", GOOD_KEY, {"URL": "redis://cache/0?password=r3dis-pw"},
            expected=[]),
]


def prod_settings(write_config, key: str, redis: dict[str, Any] | None = None):
    tree: dict[str, Any] = {"SERVER_ENV": {"ENV": "PROD", "APP_KEY": key, "PUBLIC_URL": "https://school.example"}}
    if redis is not None:
        tree["SERVICES"] = {"redis": redis}
    return load_settings(write_config(yaml.safe_dump(tree)), environ={})


@pytest.mark.parametrize("case", CHECKED, ids=[case.id for case in CHECKED])
def test_check_finds_weak_keys_and_passwordless_redis(case: Checked, write_config):
    settings = prod_settings(write_config, case.key, case.redis)
    assert [str(finding) for finding in deploy_findings(settings)] == case.expected


@pytest.mark.parametrize("generate", [lambda: secrets.token_urlsafe(48), lambda: secrets.token_urlsafe(32),
                                      lambda: secrets.token_hex(32)],
                         ids=["token_urlsafe(48)", "token_urlsafe(32)", "token_hex(32)"])
def test_generated_keys_always_pass(generate, write_config):
    # Many keys, so that a rule which fails a real generated key now and then shows up here.
    settings = prod_settings(write_config, GOOD_KEY)
    for _ in range(200):
        key = generate()
        with_key = replace(settings, server=msgspec.structs.replace(settings.server, APP_KEY=key))
        assert deploy_findings(with_key) == [], key


def test_checked_findings_are_warnings_outside_production(write_config):
    source = write_config(yaml.safe_dump({"SERVER_ENV": {"ENV": "DEV", "APP_KEY": "a" * 44, "PUBLIC_URL": "http://127.0.0.1:4200"},
                                          "SERVICES": {"redis": {"HOST": "cache"}}}))
    result = python_m_app("config", "check", "--config", str(source), env={})
    assert result.returncode == 0, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2
    assert all(line.startswith("warning: ") and line.endswith("(an error when ENV is PROD)") for line in lines)
    assert "SERVER_ENV.APP_KEY: repeats a shorter string" in lines[0]
    assert "SERVICES.redis.PASSWORD: is not set" in lines[1]


@pytest.mark.parametrize(("server", "flask", "expected"), [
    ({}, {}, ["FLASK.CONFIG.TRUSTED_HOSTS: is not set, and neither is SERVER_ENV.PUBLIC_URL: set the host names "
              "users reach the app at, so no answer is built from a request's Host header"]),
    ({"PUBLIC_URL": "https://school.example"}, {}, []),
    ({}, {"TRUSTED_HOSTS": ["school.example"]}, []),
], ids=["neither", "public url", "trusted hosts"])
def test_production_needs_trusted_hosts_or_the_public_url(write_config, server, flask, expected):
    tree = {"SERVER_ENV": {"ENV": "PROD", "APP_KEY": GOOD_KEY, **server}, "FLASK": {"CONFIG": flask}}
    settings = load_settings(write_config(yaml.safe_dump(tree)), environ={})
    assert [str(finding) for finding in deploy_findings(settings)] == expected


@pytest.mark.parametrize(("mail", "expected"), [
    ({"HOST": "smtp.example.org", "SECURITY": "none"},
     ["SERVICES.mail.SECURITY: is none; mail to smtp.example.org (password-reset links) would cross the network "
      "unencrypted: use starttls or tls"]),
    ({"HOST": "smtp.example.org", "SECURITY": "starttls"}, []),
    ({"HOST": "127.0.0.1", "SECURITY": "none"}, []),
    ({}, []),
], ids=["clear text over the network", "starttls", "a relay on the host", "no mail server"])
def test_production_refuses_mail_sent_in_clear_text_over_the_network(write_config, mail, expected):
    tree = {"SERVER_ENV": {"ENV": "PROD", "APP_KEY": GOOD_KEY, "PUBLIC_URL": "https://school.example"},
            "SERVICES": {"mail": mail}}
    settings = load_settings(write_config(yaml.safe_dump(tree)), environ={})
    assert [str(finding) for finding in deploy_findings(settings)] == expected
