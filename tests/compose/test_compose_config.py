"""docker-compose.yml as compose resolves it (`docker compose config`), with a `.env` that
fills only the "Required" values of .env.example: secrets reach the services as files, and
every service runs without new privileges and without the capabilities it does not need.

Needs the compose CLI only (no engine work: `config` starts nothing).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess

import pytest
import yaml

from tests.conftest import REPO_ROOT

ENV_EXAMPLE = REPO_ROOT / ".env.example"
REQUIRED = ("APP_KEY", "MYSQL_ROOT_PASSWORD", "MYSQL_PASSWORD", "REDIS_PASSWORD")
# The long-running services that must never hold a secret in their environment. (redis
# still takes its password from the environment, to write its own config file.)
NO_SECRETS_IN_ENVIRONMENT = ("app", "worker", "mysql", "memcached", "proxy")
READ_ONLY = ("app", "worker", "secrets", "memcached")


def required_only_env_file(tmp_path) -> tuple[os.PathLike, dict[str, str]]:
    """.env.example with only its Required values filled, as a user's first `.env`."""
    values = {name: f"{name.lower()}-{secrets.token_urlsafe(24)}" for name in REQUIRED}
    text = ENV_EXAMPLE.read_text()
    for name, value in values.items():
        text, count = re.subn(rf"(?m)^{name}=$", f"{name}={value}", text)
        assert count == 1, f"{name} is not an empty Required line of .env.example"
    path = tmp_path / ".env"
    path.write_text(text)
    return path, values


@pytest.fixture(scope="module")
def resolved(tmp_path_factory):
    if shutil.which("docker") is None:
        pytest.fail("`docker` is not installed; run ../shared/container-lab/setup (or install Docker)",
                    pytrace=False)
    env_file, values = required_only_env_file(tmp_path_factory.mktemp("compose-config"))
    environ = {key: os.environ[key] for key in ("PATH", "HOME", "DOCKER_HOST", "XDG_RUNTIME_DIR") if key in os.environ}
    environ.setdefault("DOCKER_HOST", "unix:///run/podman/podman.sock")
    result = subprocess.run(["docker", "compose", "--env-file", str(env_file), "--profile", "scale", "config"],
                            cwd=REPO_ROOT, env=environ, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)["services"], values


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def test_no_running_service_holds_a_secret_in_its_environment(resolved):
    services, values = resolved
    for name in NO_SECRETS_IN_ENVIRONMENT:
        env = environment(services[name])
        leaked = [secret for secret, value in values.items() if any(value in text for text in env.values())]
        assert leaked == [], (name, leaked)
    for name in ("app", "worker"):
        env = environment(services[name])
        assert {"APP_KEY", "DB_PASSWORD", "REDIS_PASSWORD"}.isdisjoint(env), name
        for variable in ("APP_KEY_FILE", "DB_PASSWORD_FILE", "REDIS_PASSWORD_FILE"):
            assert env[variable].startswith("/run/secrets/app/"), (name, variable)
    mysql = environment(services["mysql"])
    assert {"MYSQL_PASSWORD", "MYSQL_ROOT_PASSWORD"}.isdisjoint(mysql)
    assert mysql["MYSQL_PASSWORD_FILE"].startswith("/run/secrets/") and mysql["MYSQL_ROOT_PASSWORD_FILE"]


def test_the_secrets_reach_the_services_as_files_on_a_read_only_mount(resolved):
    services, values = resolved
    writer = services["secrets"]
    assert writer["command"] == ["write-secrets"] and writer.get("network_mode") == "none"
    assert set(values) <= set(environment(writer)) | {"MYSQL_PASSWORD"}  # given as DB_PASSWORD
    for name in ("app", "worker", "mysql"):
        mounts = [str(volume) for volume in services[name].get("volumes") or []]
        assert any(mount.startswith("secrets-") and ":/run/secrets/" in mount and mount.endswith(":ro")
                   for mount in mounts), (name, mounts)
    # MySQL's files (readable by any user there) are in a volume the app's containers do not mount.
    for name in ("app", "worker"):
        assert not any("secrets-mysql" in str(volume) for volume in services[name].get("volumes") or []), name
        depends = services[name].get("depends_on") or {}
        assert name == "worker" or depends["secrets"]["condition"] == "service_completed_successfully", name


def test_every_service_drops_capabilities_and_new_privileges(resolved):
    services, _ = resolved
    for name, service in services.items():
        assert "no-new-privileges:true" in (service.get("security_opt") or []), name
        assert (service.get("cap_drop") or []) == ["ALL"], name
        assert not {"SYS_ADMIN", "NET_ADMIN", "NET_RAW", "SYS_PTRACE"} & set(service.get("cap_add") or []), name
    for name in READ_ONLY:
        assert services[name].get("read_only") is True, name
    for name in ("app", "worker", "memcached"):
        assert not services[name].get("cap_add"), name


def test_the_app_trusts_forwarded_headers_from_the_proxy_service_only(resolved):
    services, _ = resolved
    env = environment(services["app"])
    assert env["TRUSTED_PROXIES"] == "0"  # direct clients by default
    assert env["TRUSTED_PROXY_NETWORKS"] == "proxy"
    assert env["PUBLIC_URL"].startswith("http")  # what `config check` needs in PROD
