"""The README's start with Docker, replayed as printed on a copy with no history, as "Use this
template" makes one: its commands run as written (`cp .env.example .env`, then `docker
compose up -d --build --wait`), with only the values under "Required" in `.env.example`
filled in, then a visitor signs up and logs in through the published port, and the stack
is taken down. The project name is compose's default, the copy's folder name.

Runs in the lab (`make test-compose`, under `flock -x /tmp/compose.lock`).
"""

from __future__ import annotations

import re
import secrets
import socket
import subprocess
import uuid
from pathlib import Path

import pytest

from flask_keel.client import Client
from flask_keel.testing import scratch_copy, wait_until
from tests.compose.conftest import _docker_environment, wait_for_http
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.compose


def readme_docker_commands() -> list[str]:
    """The README's first block that starts the stack: its commands, without their comments."""
    readme = (REPO_ROOT / "README.md").read_text()
    for block in re.findall(r"```sh\n(.*?)```", readme, re.S):
        if "docker compose up" in block:
            return [line.split("#", 1)[0].strip() for line in block.splitlines() if line.split("#", 1)[0].strip()]
    pytest.fail("the README shows no `docker compose up`", pytrace=False)


def fill_required(env_file: Path) -> dict[str, str]:
    """Give each variable of the "Required" block a fresh value, as the README's step 2 says;
    every other line stays as copied. The values written, by name."""
    lines = env_file.read_text().splitlines()
    start = next(index for index, line in enumerate(lines) if line.startswith("# Required"))
    filled = {}
    for index in range(start + 1, len(lines)):
        line = lines[index]
        if line.startswith("#") and filled:
            break  # the next block's comment
        name = re.match(r"^([A-Z_]+)=$", line)
        if name:
            filled[name.group(1)] = secrets.token_urlsafe(48 if name.group(1) == "APP_KEY" else 24)
            lines[index] = f"{name.group(1)}={filled[name.group(1)]}"
    env_file.write_text("\n".join(lines) + "\n")
    return filled


def port_is_free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex((host, port)) != 0


def run(command: str, cwd: Path, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_the_readme_start_works_as_printed_on_a_fresh_copy(tmp_path):
    root = scratch_copy(REPO_ROOT, tmp_path / f"readme{uuid.uuid4().hex[:6]}")
    assert not (root / ".git").exists() and not (root / ".env").exists()
    # A new shell: the engine's address and the usual variables, none of the test run's.
    env = {name: value for name, value in _docker_environment().items()
           if name in ("PATH", "HOME", "DOCKER_HOST", "LANG", "TMPDIR")}
    copy_env, *rest = readme_docker_commands()
    assert copy_env == "cp .env.example .env" and rest == ["docker compose up -d --build --wait"], (copy_env, rest)

    assert run(copy_env, root, env, 30).returncode == 0
    filled = fill_required(root / ".env")
    assert set(filled) == {"APP_KEY", "MYSQL_ROOT_PASSWORD", "MYSQL_PASSWORD", "REDIS_PASSWORD"}, filled
    dotenv = dict(line.split("=", 1) for line in (root / ".env").read_text().splitlines()
                  if line and not line.startswith("#"))
    url = f"http://{dotenv['APP_BIND']}:{dotenv['APP_PORT']}"
    # The published port as printed (4200): a server another suite started there must go first.
    assert wait_until(lambda: port_is_free(dotenv["APP_BIND"], int(dotenv["APP_PORT"])), 120), \
        f"{url} is taken by another process; the README's stack publishes there"
    try:
        up = run(rest[0], root, env, 1200)
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-5000:]
        wait_for_http(url + "/healthz")

        # Generous: the stack has just started, on a machine CI keeps busy with other stages.
        visitor = Client(url, realtime=False, timeout=60)
        visitor.signup("newcomer", "a long password", "newcomer@example.test")
        assert visitor.get("/ws/me")["username"] == "newcomer"
        visitor.close()
        again = Client(url, realtime=False, timeout=60)
        again.login("newcomer", "a long password")
        assert again.get("/ws/me")["username"] == "newcomer"
        again.close()
    finally:
        logs = run("docker compose logs --no-color --tail 60", root, env, 120)
        down = run("docker compose down -v --remove-orphans", root, env, 300)
        print(logs.stdout[-5000:] + logs.stderr[-2000:], down.stdout[-2000:], down.stderr[-2000:])  # on failure
    assert down.returncode == 0, down.stderr[-2000:]
