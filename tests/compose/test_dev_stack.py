"""`make compose-dev`: the full stack (MySQL, Redis, memcached) with the checkout mounted
live. In a copy of the project owned by a non-root user: an edit to a controller or a
template is served within 5 s with no rebuild, errors show the debugger, and what the
container writes into the checkout belongs to that user."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest
import requests

from flask_keel.testing import edit, free_port, scratch_copy, served_within
from tests.compose.conftest import Stack, stack_environment, wait_for_http
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.compose

EDIT_BUDGET = 5.0  # seconds from saving a file to the change being served
HOST_UID = HOST_GID = 1234  # the "host user" who owns the checkout


def chown_tree(root: Path, uid: int, gid: int) -> None:
    os.chown(root, uid, gid)
    for folder, names, files in os.walk(root):
        for name in names + files:
            os.chown(os.path.join(folder, name), uid, gid, follow_symlinks=False)


@pytest.fixture(scope="module")
def dev_stack(tmp_path_factory):
    root = scratch_copy(REPO_ROOT, tmp_path_factory.mktemp("dev-stack") / "project")
    if os.geteuid() == 0:
        chown_tree(root, HOST_UID, HOST_GID)
        uid, gid = HOST_UID, HOST_GID
    else:  # a CI runner's user: the checkout is already theirs
        uid, gid = os.getuid(), os.getgid()
    port = free_port()
    env = stack_environment()
    env.update(APP_UID=str(uid), APP_GID=str(gid), APP_PORT=str(port),
               APP_DEV_IMAGE=f"flask-template-app:dev-{uuid.uuid4().hex[:6]}")
    stack = Stack(f"tmpldev{uuid.uuid4().hex[:6]}", env, cwd=root,
                  files=("docker-compose.yml", "docker-compose.dev.yml"))
    try:
        stack.compose("up", "-d", "--build", "--wait", timeout=900)
        url = f"http://127.0.0.1:{port}"
        wait_for_http(url + "/healthz", timeout=120)
        yield stack, root, url, (uid, gid)
    finally:
        logs = stack.compose("logs", "--no-color", check=False, timeout=120)
        print(logs.stdout[-4000:])
        stack.compose("down", "-v", "--remove-orphans", check=False, timeout=300)
        subprocess.run(["docker", "image", "rm", "-f", env["APP_DEV_IMAGE"]], env=env, capture_output=True,
                       timeout=120)


def test_the_dev_server_runs_on_the_full_stack(dev_stack):
    stack, _, url, _ = dev_stack
    ready = requests.get(url + "/readyz", timeout=10).json()
    assert ready["status"] == "ready" and set(ready["checks"]) == {"database:main", "redis", "memcached"}
    logs = stack.compose("logs", "--no-color", "app").stdout
    assert "starting the development server" in logs and "starting gunicorn" not in logs


def test_an_edit_is_served_within_five_seconds_without_a_rebuild(dev_stack):
    stack, root, url, _ = dev_stack
    image = stack.inspect("app", "{{.Image}}")
    assert requests.get(url + "/ws/info", timeout=5).json()["name"] == stack.env["APP_NAME"]

    edit(root / "Controllers" / "core.py", 'return jsonify(name=current_app.config["APP_NAME"],',
         'return jsonify(edited="in the container", name=current_app.config["APP_NAME"],')
    took = served_within(url + "/ws/info", lambda r: r.ok and r.json().get("edited") == "in the container", 30)
    print(f"served after {took}s")
    assert took is not None and took <= EDIT_BUDGET, took

    edit(root / "template" / "home.html", "is running</h1>", "is running, live</h1>")
    took = served_within(url + "/", lambda r: "is running, live" in r.text, 30)
    print(f"served after {took}s")
    assert took is not None and took <= EDIT_BUDGET, took

    # An error shows the debugger's traceback page.
    edit(root / "Controllers" / "core.py", 'return jsonify(edited="in the container",',
         'raise ValueError("boom")\n    return jsonify(edited="in the container",')
    took = served_within(url + "/ws/info", lambda r: r.status_code == 500 and "ValueError: boom" in r.text, 30)
    print(f"served after {took}s")
    assert took is not None and took <= EDIT_BUDGET, took
    assert stack.inspect("app", "{{.Image}}") == image  # the same container image: no rebuild


def test_files_written_in_the_container_belong_to_the_host_user(dev_stack):
    stack, root, _, (uid, gid) = dev_stack
    before = set((root / "migrations" / "versions").iterdir())
    stack.exec("app", "flask", "db", "revision", "-m", "written in the container")
    made = set((root / "migrations" / "versions").iterdir()) - before
    assert len(made) == 1, made
    written = made.pop().stat()
    assert (written.st_uid, written.st_gid) == (uid, gid)
    assert stack.exec("app", "id", "-u").strip() == str(uid)
