"""The compose stack, built and started once for this suite, always torn down.

Needs `docker compose` (on our machines: ../shared/container-lab/setup). If it
is missing the suite fails, with the reason; it never skips.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.conftest import REPO_ROOT

APP_URL = "http://127.0.0.1:4200"
DECOY = "compose-test-decoy"
PROXY_URL = "http://127.0.0.1:8080"
# Resolver options for the test machines' container DNS (the file says why).
RESOLVER = Path(__file__).with_name("resolver.yml")


@dataclass
class Stack:
    project: str
    env: dict[str, str]
    cwd: Path = REPO_ROOT
    files: tuple[str, ...] = ("docker-compose.yml",)  # the project's compose files (-f), in order

    def compose(self, *args: str, check: bool = True, timeout: float = 600,
                env: dict[str, str] | None = None, stdin: str | None = None) -> subprocess.CompletedProcess:
        files = [option for name in (*self.files, str(RESOLVER)) for option in ("-f", name)]
        result = subprocess.run(["docker", "compose", "-p", self.project, *files, *args], cwd=self.cwd,
                                env={**self.env, **(env or {})}, capture_output=True, text=True, timeout=timeout,
                                input=stdin)
        if check and result.returncode != 0:
            pytest.fail(f"docker compose {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n"
                        f"{result.stderr}", pytrace=False)
        return result

    def exec(self, service: str, *command: str, index: int = 1, stdin: str | None = None) -> str:
        return self.compose("exec", "-T", "--index", str(index), service, *command, stdin=stdin).stdout

    def mysql(self, sql: str) -> str:
        return self.exec("mysql", "mysql", "-N", "-u", self.env["MYSQL_USER"], f"-p{self.env['MYSQL_PASSWORD']}",
                         self.env["MYSQL_DATABASE"], "-e", sql)

    def redis(self, *command: str) -> str:
        return self.exec("redis", "sh", "-c", 'REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli "$@"', "redis-cli", *command)

    def container_id(self, service: str) -> str:
        return self.compose("ps", "-q", service).stdout.split()[0]

    def inspect(self, service: str, template: str) -> str:
        result = subprocess.run(["docker", "inspect", "--format", template, self.container_id(service)],
                                env=self.env, capture_output=True, text=True, timeout=60, check=True)
        return result.stdout


def _docker_environment() -> dict[str, str]:
    environ = dict(os.environ)
    environ.setdefault("DOCKER_HOST", "unix:///run/podman/podman.sock" if os.path.exists(
        "/run/podman/podman.sock") else "unix:///var/run/docker.sock")
    if shutil.which("docker") is None:
        pytest.fail("`docker` is not installed; run ../shared/container-lab/setup (or install Docker)",
                    pytrace=False)
    probe = subprocess.run(["docker", "compose", "version"], env=environ, capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.fail(f"`docker compose` does not work: {probe.stderr.strip()}", pytrace=False)
    return environ


def wait_for_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    pytest.fail(f"{url} did not answer within {timeout}s", pytrace=False)


def stack_environment() -> dict[str, str]:
    """What `docker compose` runs with: the engine's address and the secrets a user puts
    in .env, fresh for every run."""
    env = _docker_environment()
    env.update(
        APP_KEY=secrets.token_urlsafe(48),
        MYSQL_ROOT_PASSWORD=secrets.token_urlsafe(16),
        MYSQL_PASSWORD=secrets.token_urlsafe(16),
        REDIS_PASSWORD=secrets.token_urlsafe(16),
        MYSQL_DATABASE="app",
        MYSQL_USER="app",
        APP_NAME=f"ci{uuid.uuid4().hex[:6]}",
        # The tests sign many accounts up from 127.0.0.1; the limits are tested without compose.
        SIGNUP_RATE_LIMIT="1000 per minute",
    )
    for name in ("APP_PORT", "APP_UID", "APP_GID"):
        env.pop(name, None)
    return env


@pytest.fixture(scope="session")
def stack(request):
    env = stack_environment()
    stack = Stack(f"tmplci{uuid.uuid4().hex[:6]}", env)
    # A rendered config left in the checkout, as `flask config render -o` leaves one: the
    # image must not take it in (test_the_image_holds_no_rendered_config).
    decoy = REPO_ROOT / "config" / f"{DECOY}.rendered.yml"
    decoy.write_text("SERVER_ENV: {APP_KEY: decoy}\n")
    try:
        stack.compose("up", "-d", "--build", "--wait", timeout=900)
        wait_for_http(APP_URL + "/healthz")
        yield stack
    finally:
        decoy.unlink(missing_ok=True)
        logs = stack.compose("--profile", "scale", "logs", "--no-color", check=False, timeout=120)
        (REPO_ROOT / "instance").mkdir(exist_ok=True)
        (REPO_ROOT / "instance" / "compose-test.log").write_text(logs.stdout + logs.stderr)
        if request.session.testsfailed:  # CI shows pytest's output only: each service's last words
            tails = stack.compose("--profile", "scale", "logs", "--no-color", "--tail", "40", check=False,
                                  timeout=120)
            print(tails.stdout + tails.stderr)
        stack.compose("--profile", "scale", "down", "-v", "--remove-orphans", check=False, timeout=300)
