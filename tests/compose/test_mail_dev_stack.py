"""The dev stack's mail catcher: a password reset asked for through nginx is mailed by the
jobs worker to MailDev, read back from MailDev's REST API (`GET /email`), and its link,
built from PUBLIC_URL, followed through nginx to a new password."""

from __future__ import annotations

import os
import re
import subprocess
import time
import uuid

import pytest
import requests

from flask_keel.testing import free_port, scratch_copy
from tests.compose.conftest import Stack, stack_environment, wait_for_http
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.compose

HOST_UID = HOST_GID = 1234  # the "host user" who owns the checkout the dev stack mounts


def form_token(html: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


@pytest.fixture(scope="module")
def mail_stack(tmp_path_factory):
    root = scratch_copy(REPO_ROOT, tmp_path_factory.mktemp("mail-stack") / "project")
    if os.geteuid() == 0:
        subprocess.run(["chown", "-R", f"{HOST_UID}:{HOST_GID}", str(root)], check=True, timeout=120)
        uid, gid = HOST_UID, HOST_GID
    else:
        uid, gid = os.getuid(), os.getgid()
    proxy, maildev = free_port(), free_port()
    env = stack_environment()
    env.update(APP_UID=str(uid), APP_GID=str(gid), APP_PORT=str(free_port()), PROXY_PORT=str(proxy),
               MAILDEV_PORT=str(maildev), TRUSTED_PROXIES="1", PUBLIC_URL=f"http://127.0.0.1:{proxy}",
               APP_DEV_IMAGE=f"flask-template-app:dev-{uuid.uuid4().hex[:6]}")
    stack = Stack(f"tmplmail{uuid.uuid4().hex[:6]}", env, cwd=root,
                  files=("docker-compose.yml", "docker-compose.dev.yml"))
    try:
        stack.compose("--profile", "scale", "up", "-d", "--build", "--wait", timeout=900)
        wait_for_http(f"http://127.0.0.1:{proxy}/healthz", timeout=120)
        wait_for_http(f"http://127.0.0.1:{maildev}/healthz", timeout=60)
        yield f"http://127.0.0.1:{proxy}", f"http://127.0.0.1:{maildev}"
    finally:
        logs = stack.compose("--profile", "scale", "logs", "--no-color", check=False, timeout=120)
        print(logs.stdout[-4000:])
        stack.compose("--profile", "scale", "down", "-v", "--remove-orphans", check=False, timeout=300)
        subprocess.run(["docker", "image", "rm", "-f", env["APP_DEV_IMAGE"]], env=env, capture_output=True,
                       timeout=120)


def mail_in_maildev(maildev: str, address: str, subject: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in requests.get(maildev + "/email", timeout=10).json():
            if subject == message["subject"] and any(to["address"] == address for to in message["to"]):
                return message
        time.sleep(1)
    pytest.fail(f"no {subject!r} mail to {address} in MailDev within {timeout}s", pytrace=False)


def test_a_reset_mail_goes_through_maildev_and_its_link_through_nginx(mail_stack):
    site, maildev = mail_stack
    person = requests.Session()
    person.headers["X-CSRFToken"] = person.get(site + "/ws/csrf", timeout=10).json()["csrf_token"]
    signup = person.post(site + "/ws/signup", timeout=30,
                         json={"username": "maildev_user", "password": "a long password", "email": "md@example.test"})
    assert signup.status_code == 201, signup.text

    stranger = requests.Session()
    stranger.headers["X-CSRFToken"] = stranger.get(site + "/ws/csrf", timeout=10).json()["csrf_token"]
    asked = stranger.post(site + "/ws/password/forgot", json={"email": "md@example.test"}, timeout=30)
    assert asked.status_code == 202

    message = mail_in_maildev(maildev, "md@example.test", "Reset your password")
    link = re.search(r"https?://\S+/password/reset/\S+", message["text"]).group(0)
    assert link.startswith(site + "/password/reset/")  # PUBLIC_URL: the proxy's address
    page = stranger.get(link, timeout=30)
    assert page.status_code == 200 and "Choose a new password" in page.text
    done = stranger.post(link, allow_redirects=False, timeout=30, data={
        "csrf_token": form_token(page.text), "password": "reset via maildev", "confirm": "reset via maildev"})
    assert done.status_code == 302 and done.headers["Location"].endswith("/login")

    again = requests.Session()
    token = again.get(site + "/ws/csrf", timeout=10).json()["csrf_token"]
    login = again.post(site + "/ws/login", headers={"X-CSRFToken": token}, timeout=30,
                       json={"username": "maildev_user", "password": "reset via maildev"})
    assert login.status_code == 200
    assert person.get(site + "/ws/me", timeout=10).status_code == 401  # the reset ended the old session
