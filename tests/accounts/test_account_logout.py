"""Logging out and in again with a cookie-jar client (issue 29): the cookie that deletes the
session carries the attributes it was set with, and a client whose jar kept a dead session
cookie anyway (curl files HttpOnly cookies apart) can still log in: its CSRF token, in the
visitor's signed cookie, is not hidden by the dead one."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import uuid

import pytest
import requests

from flask_keel.testing import start_live_server
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.integration

PASSWORD = "a long password"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    served = start_live_server(tmp_path_factory.mktemp("logout"), "logout", migrate=True, root=REPO_ROOT,
                               FLASK={"CONFIG": {"LOGIN_RATE_LIMIT": "1000 per minute"}})
    try:
        yield served
    finally:
        served.stop()


def form_token(html: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def cookie_attributes(header: str) -> set[str]:
    """The attributes of a Set-Cookie header, its value and dates left out."""
    parts = [part.strip() for part in header.split(";")[1:]]
    return {part.split("=")[0].lower() if part.lower().startswith(("expires", "max-age")) else part.lower()
            for part in parts} - {"expires", "max-age"}


def set_cookie(response: requests.Response, name: str) -> str:
    headers = response.raw.headers.getlist("Set-Cookie")
    return next(header for header in headers if header.startswith(f"{name}="))


def test_the_deletion_cookie_has_the_session_cookies_attributes(server):
    name = f"attr{uuid.uuid4().hex[:6]}"
    client = requests.Session()
    token = client.get(server.url + "/ws/csrf", timeout=10).json()["csrf_token"]
    signup = client.post(server.url + "/ws/signup", headers={"X-CSRFToken": token}, timeout=10,
                         json={"username": name, "password": PASSWORD, "email": f"{name}@logout.test"})
    created = set_cookie(signup, "session")
    logout = client.post(server.url + "/ws/logout", headers={"X-CSRFToken": signup.json()["csrf_token"]}, timeout=10)
    deleted = set_cookie(logout, "session")
    assert cookie_attributes(created) == {"httponly", "path=/", "samesite=lax"}
    assert cookie_attributes(deleted) == cookie_attributes(created)


def test_a_requests_session_logs_in_again_after_logging_out(server):
    name = f"again{uuid.uuid4().hex[:6]}"
    browser = requests.Session()
    page = browser.get(server.url + "/signup", timeout=10)
    browser.post(server.url + "/signup", timeout=10, data={
        "csrf_token": form_token(page.text), "username": name, "email": f"{name}@logout.test",
        "password": PASSWORD, "confirm": PASSWORD})
    for _ in range(2):  # out and in again, twice, through the pages
        dashboard = browser.get(server.url + "/dashboard", timeout=10)
        assert f"Hello, {name}" in dashboard.text
        token = re.search(r'name="csrf-token" content="([^"]+)"', dashboard.text).group(1)
        assert browser.post(server.url + "/logout", data={"csrf_token": token}, timeout=10).status_code == 200
        assert "session" not in browser.cookies
        page = browser.get(server.url + "/login", timeout=10)
        login = browser.post(server.url + "/login", allow_redirects=False, timeout=10,
                             data={"csrf_token": form_token(page.text), "username": name, "password": PASSWORD})
        assert login.status_code == 302, login.text


def test_a_jar_that_keeps_the_dead_session_cookie_still_logs_in_again(server):
    """As curl's jar did when the deletion cookie lacked HttpOnly: the old session cookie is
    sent along with the visitor's; the CSRF token of the visitor's cookie still counts."""
    name = f"dead{uuid.uuid4().hex[:6]}"
    client = requests.Session()
    token = client.get(server.url + "/ws/csrf", timeout=10).json()["csrf_token"]
    signup = client.post(server.url + "/ws/signup", headers={"X-CSRFToken": token}, timeout=10,
                         json={"username": name, "password": PASSWORD, "email": f"{name}@logout.test"})
    dead = client.cookies["session"]
    client.post(server.url + "/ws/logout", headers={"X-CSRFToken": signup.json()["csrf_token"]}, timeout=10)
    assert "session" not in client.cookies
    for _ in range(2):
        kept = {"session": dead}  # sent along, whatever the server said
        token = client.get(server.url + "/ws/csrf", cookies=kept, timeout=10).json()["csrf_token"]
        login = client.post(server.url + "/ws/login", headers={"X-CSRFToken": token}, cookies=kept, timeout=10,
                            json={"username": name, "password": PASSWORD})
        assert login.status_code == 200, login.text
        assert client.get(server.url + "/ws/me", timeout=10).json()["username"] == name
        dead = login.cookies["session"]
        client.post(server.url + "/ws/logout", headers={"X-CSRFToken": login.json()["csrf_token"]}, timeout=10)
        assert "session" not in client.cookies


def test_curl_with_a_cookie_jar_logs_in_again_after_logging_out(server, tmp_path):
    curl = shutil.which("curl")
    assert curl, "curl is not installed"
    jar = tmp_path / "cookies.txt"

    def call(method: str, path: str, token: str | None = None, body: dict | None = None) -> tuple[int, dict]:
        command = [curl, "-s", "-o", "-", "-w", "\n%{http_code}", "-c", str(jar), "-b", str(jar), "-X", method,
                   server.url + path]
        if token:
            command += ["-H", f"X-CSRFToken: {token}"]
        if body is not None:
            command += ["-H", "Content-Type: application/json", "--data", json.dumps(body)]
        output = subprocess.run(command, capture_output=True, text=True, timeout=30, check=True).stdout
        text, status = output.rsplit("\n", 1)
        return int(status), json.loads(text) if text.strip() else {}

    name = f"curl{uuid.uuid4().hex[:6]}"
    _, csrf = call("GET", "/ws/csrf")
    status, signup = call("POST", "/ws/signup", csrf["csrf_token"],
                          {"username": name, "password": PASSWORD, "email": f"{name}@logout.test"})
    assert status == 201
    assert call("POST", "/ws/logout", signup["csrf_token"])[0] == 200
    for _ in range(2):
        _, csrf = call("GET", "/ws/csrf")
        status, login = call("POST", "/ws/login", csrf["csrf_token"], {"username": name, "password": PASSWORD})
        assert status == 200, login
        assert call("GET", "/ws/me")[1]["username"] == name
        assert call("POST", "/ws/logout", login["csrf_token"])[0] == 200
        assert call("GET", "/ws/me")[0] == 401
