"""`flask config render | show | check`, run through the real `flask` command."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from flask_keel.config import load_settings
from tests.conftest import REPO_ROOT

FLASK = str(Path(sys.executable).with_name("flask"))
GOOD_KEY = "Zr8v3tW1qN5yB0kH7mL2pX9cF4dJ6sA_eUh2Gx5Rb7Yn"


def flask_cli(*args: str, env: dict[str, str] | None = None, cwd: Path = REPO_ROOT):
    """Run `flask ARGS` as a user would, with a clean environment plus `env`."""
    environ = {key: value for key, value in os.environ.items()
               if not key.startswith(("APP_", "DB_", "REDIS_", "SESSION_", "LOG_", "MEMCACHED_"))}
    environ.update(env or {})
    return subprocess.run([FLASK, *args], capture_output=True, text=True, env=environ, cwd=cwd, timeout=60)


@pytest.fixture
def prod_config(write_config):
    def make(key: str = GOOD_KEY, extra: str = "") -> Path:
        return write_config(f"""
            SERVER_ENV:
                ENV: PROD
                APP_KEY: '{key}'
                PUBLIC_URL: https://school.example
            {textwrap.dedent(extra)}
            """)

    return make


def test_render_writes_a_file_that_loads_back_to_the_same_config(write_config, tmp_path):
    source = write_config("""
        SERVER_ENV:
            APP_NAME: 'literal $${NOT_A_VAR} and ${NAME}'
            BIND: {PORT: '${PORT:-5000}'}
        DATABASE:
            main: {driver: mysql+pymysql, user: app, password: '${DB_PASSWORD}', address: db, database: shop}
        FLASK:
            CONFIG: {SESSION_COOKIE_SECURE: '${SECURE:-true}'}
        SERVICES:
            redis: {HOST: cache, PASSWORD: '${REDIS_PASSWORD}'}
            mailer: {HOST: smtp.internal}
        """)
    output = tmp_path / "out" / "rendered.yml"
    env = {"NAME": "shop", "DB_PASSWORD": "p@ss:w/rd${x}", "REDIS_PASSWORD": "0123"}
    result = flask_cli("config", "render", "--config", str(source), "-o", str(output), env=env)
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(output.stat().st_mode) == 0o600
    assert "${DB_PASSWORD}" not in output.read_text()

    original = load_settings(source, environ=env).to_tree()
    reloaded = load_settings(output, environ={}).to_tree()
    assert reloaded == original
    assert reloaded["SERVER_ENV"]["APP_NAME"] == "literal ${NOT_A_VAR} and shop"
    assert reloaded["DATABASE"]["main"]["password"] == "p@ss:w/rd${x}"
    assert reloaded["SERVICES"]["redis"]["PASSWORD"] == "0123"
    assert reloaded["SERVICES"]["mailer"] == {"HOST": "smtp.internal"}
    assert reloaded["SERVER_ENV"]["BIND"]["PORT"] == 5000


def test_render_to_stdout(write_config):
    source = write_config("SERVER_ENV: {APP_NAME: '${NAME}'}")
    result = flask_cli("config", "render", "--config", str(source), env={"NAME": "stdout-app"})
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load(result.stdout)["SERVER_ENV"]["APP_NAME"] == "stdout-app"


def test_render_refuses_an_invalid_config_with_one_line_per_problem(write_config):
    source = write_config("SERVER_ENV: {APP_NAME: '${A}', BIND: {PORT: 0}}")
    result = flask_cli("config", "render", "--config", str(source))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"error: {source}: SERVER_ENV.APP_NAME: environment variable A is not set",
        f"error: {source}: SERVER_ENV.BIND.PORT: expected `int` >= 1",
    ]
    assert "Traceback" not in result.stderr


def test_show_redacts_every_secret(write_config):
    source = write_config("""
        SERVER_ENV: {APP_KEY: '${KEY}'}
        DATABASE: {main: {driver: mysql+pymysql, user: app, password: '${PW}', address: db}}
        FLASK: {CONFIG: {SECRET_KEY: flask-secret-value, MAIL_PASSWORD: mail-secret-value}}
        SERVICES:
            redis: {URL: 'redis://:${RPW}@cache:6379/0'}
            api: {TOKEN: api-token-value}
        """)
    env = {"KEY": "app-key-value-" * 3, "PW": "db-password-value", "RPW": "redis-password-value"}
    result = flask_cli("config", "show", "--config", str(source), env=env)
    assert result.returncode == 0, result.stderr
    for secret in [*env.values(), "flask-secret-value", "mail-secret-value", "api-token-value"]:
        assert secret not in result.stdout
    shown = yaml.safe_load(result.stdout)
    assert shown["SERVER_ENV"]["APP_KEY"] == "********"
    assert shown["SERVICES"]["redis"]["URL"] == "redis://:********@cache:6379/0"
    assert shown["DATABASE"]["main"]["user"] == "app"


def test_check_passes_a_sound_production_config(prod_config):
    result = flask_cli("config", "check", "--config", str(prod_config()))
    assert result.returncode == 0, result.stderr
    assert "is valid (ENV=PROD)" in result.stdout


@pytest.mark.parametrize(("key", "extra", "expected"), [
    ("short-key", "", "SERVER_ENV.APP_KEY: is 9 characters long; use at least 43"),
    ("changeme-changeme-changeme-changeme", "", "SERVER_ENV.APP_KEY: is a placeholder value"),
    ("*" * 40, "", "SERVER_ENV.APP_KEY: is a placeholder value"),
    (GOOD_KEY, "FLASK: {CONFIG: {DEBUG: true}}", "FLASK.CONFIG.DEBUG: debug mode is on"),
    (GOOD_KEY, "FLASK: {CONFIG: {SESSION_COOKIE_SECURE: false}}", "FLASK.CONFIG.SESSION_COOKIE_SECURE: is false"),
    (GOOD_KEY, "FLASK: {CONFIG: {SESSION_COOKIE_HTTPONLY: false}}", "SESSION_COOKIE_HTTPONLY: is false"),
    (GOOD_KEY, "DATABASE: {a: {driver: mysql+pymysql, user: *******, password: ********}}",
     "DATABASE.a.user: is a masked example value"),
    ("a" * 44, "", "SERVER_ENV.APP_KEY: repeats a shorter string"),
    ("password" * 6, "", "SERVER_ENV.APP_KEY: repeats a shorter string"),
    (GOOD_KEY, "SERVICES: {redis: {HOST: cache}}",
     "SERVICES.redis.PASSWORD: is not set; Redis must require a password in production"),
], ids=["short key", "placeholder key", "masked key", "debug", "insecure cookie", "script-readable cookie",
        "masked credentials", "repeated character key", "repeated word key", "redis without password"])
def test_check_refuses_unsafe_production_settings(prod_config, key, extra, expected):
    result = flask_cli("config", "check", "--config", str(prod_config(key, extra)))
    assert result.returncode == 1
    assert expected in result.stderr
    assert all(line.startswith("error: ") for line in result.stderr.strip().splitlines())


def test_check_refuses_debug_in_server_env(write_config):
    source = write_config(f"SERVER_ENV: {{ENV: PROD, APP_KEY: '{GOOD_KEY}', DEBUG: true}}")
    result = flask_cli("config", "check", "--config", str(source))
    assert result.returncode == 1
    assert "SERVER_ENV.DEBUG: debug mode is on" in result.stderr


def test_check_only_warns_outside_production(write_config):
    source = write_config("SERVER_ENV: {ENV: DEV, APP_KEY: short}")
    result = flask_cli("config", "check", "--config", str(source))
    assert result.returncode == 0
    assert "warning:" in result.stderr and "an error when ENV is PROD" in result.stderr


def test_check_works_when_the_config_is_broken_enough_that_the_app_cannot_load(write_config):
    # The group is a Flask plugin: listing it does not build the app.
    source = write_config("SERVER_ENV: {WORKERS: fork-bomb}")
    result = flask_cli("config", "check", env={"APP_CONFIG": str(source)})
    assert result.returncode == 2
    assert "SERVER_ENV.WORKERS: 'fork-bomb' is not one of gevent, gthread, sync" in result.stderr
